-- The original Events DB DDL of the architecture plan, verbatim (its migrations/events/001_initial.sql).
-- Test data: lint and the schema comparison read it.
-- events table
CREATE TABLE events (
    event_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    event_name VARCHAR(255) NOT NULL,
    event_date DATETIME NOT NULL,
    venue_name VARCHAR(255),
    total_seats INT NOT NULL,
    available_seats INT NOT NULL,
    status ENUM('UPCOMING', 'ON_SALE', 'SOLD_OUT', 'CANCELLED') DEFAULT 'UPCOMING',
    sale_start_time DATETIME,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    INDEX idx_sale_start_time (sale_start_time),
    INDEX idx_status (status),
    INDEX idx_event_date (event_date)
);

-- outbox_events for CDC to Elasticsearch
CREATE TABLE outbox_events (
    id BIGINT PRIMARY KEY AUTO_INCREMENT,
    aggregate_id BIGINT NOT NULL,
    aggregate_type VARCHAR(50) NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    payload JSON NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    processed BOOLEAN DEFAULT FALSE,
    INDEX idx_processed (processed),
    INDEX idx_created_at (created_at)
);
