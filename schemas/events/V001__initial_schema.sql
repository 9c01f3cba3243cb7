-- events_db, owned by the events service: the event catalogue, its pricing rules,
-- and the outbox that feeds the search index.
--
-- Tables, columns, defaults and indexes of `events` and `outbox_events` are the seed's
-- (phase 1, T1.3). What this file adds: ENGINE=InnoDB and utf8mb4 on every table (the
-- server default may be latin1 or MyISAM elsewhere), and the `event_pricing_rules` table.
-- Foreign keys stay inside this database: each service owns its own database.

CREATE TABLE events (
    event_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    event_name VARCHAR(255) NOT NULL,
    event_date DATETIME NOT NULL,
    venue_name VARCHAR(255),
    total_seats INT NOT NULL,
    -- a read-model counter for listings; the inventory service's seats table is the truth
    available_seats INT NOT NULL,
    status ENUM('UPCOMING', 'ON_SALE', 'SOLD_OUT', 'CANCELLED') DEFAULT 'UPCOMING',
    -- the flash-sale opening: the gateway admits buyers from this moment
    sale_start_time DATETIME,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    INDEX idx_sale_start_time (sale_start_time),
    INDEX idx_status (status),
    INDEX idx_event_date (event_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Pricing rules: what a seat of an event costs, by seat type and/or section, in a time
-- window (early bird, last-minute, VIP tiers). Why a table and not a column on events:
-- one event has several prices, and a price changes over the sale without touching the
-- event row that listings read at high rate.
-- * The inventory service resolves the price when it creates or re-prices seats and
--   stores it in inventory_db.seats.price; a booking keeps the price paid in
--   bookings_db.booking_seats.price. Changing a rule therefore never rewrites a sale.
-- * Matching: rules of the event that are active, whose window contains now, and whose
--   seat_type/section equal the seat's or are NULL (= any); the highest priority wins.
-- * seat_type takes the values of inventory_db.seats.seat_type. That database cannot be
--   referenced by a key (no cross-database keys), so the ENUM keeps the two in step.
CREATE TABLE event_pricing_rules (
    rule_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    event_id BIGINT NOT NULL,
    rule_name VARCHAR(100) NOT NULL,
    seat_type ENUM('REGULAR', 'VIP', 'PREMIUM') NULL,
    section VARCHAR(50) NULL,
    -- DECIMAL(10, 2), like seats.price and bookings.total_amount: money is never a float
    price DECIMAL(10, 2) NOT NULL,
    currency CHAR(3) NOT NULL DEFAULT 'USD',
    valid_from DATETIME NULL,
    valid_until DATETIME NULL,
    priority INT NOT NULL DEFAULT 0,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    -- the same database, so a real key: a rule cannot outlive its event
    CONSTRAINT fk_pricing_rules_event FOREIGN KEY (event_id) REFERENCES events (event_id) ON DELETE CASCADE,
    -- enforced by MySQL >= 8.0.16 and MariaDB >= 10.2
    CONSTRAINT chk_pricing_rules_price CHECK (price >= 0),
    CONSTRAINT chk_pricing_rules_window CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from),
    -- the one query: the active rules of one event, best first
    INDEX idx_event_active_priority (event_id, is_active, priority)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The transactional outbox: written in the same transaction as the change to `events`,
-- read by the indexer, which publishes to the search engine and sets processed.
CREATE TABLE outbox_events (
    id BIGINT PRIMARY KEY AUTO_INCREMENT,
    aggregate_id BIGINT NOT NULL,
    aggregate_type VARCHAR(50) NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    -- JSON works on both servers: a native type on MySQL, LONGTEXT with a JSON_VALID check on MariaDB
    payload JSON NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    processed BOOLEAN DEFAULT FALSE,
    INDEX idx_processed (processed),
    INDEX idx_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
