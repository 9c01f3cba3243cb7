-- The original Inventory DB DDL of the architecture plan, verbatim (its migrations/inventory/001_initial.sql).
-- Test data: lint and the schema comparison read it.
-- seats table
CREATE TABLE seats (
    seat_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    event_id BIGINT NOT NULL,
    seat_number VARCHAR(20) NOT NULL,
    section VARCHAR(50),
    row_number VARCHAR(10),
    seat_type ENUM('REGULAR', 'VIP', 'PREMIUM') DEFAULT 'REGULAR',
    price DECIMAL(10, 2) NOT NULL,
    status ENUM('AVAILABLE', 'RESERVED', 'BOOKED', 'BLOCKED') DEFAULT 'AVAILABLE',
    version BIGINT DEFAULT 0,  -- For optimistic locking
    reserved_by VARCHAR(50),
    reserved_until DATETIME,
    booking_id BIGINT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    UNIQUE KEY uk_event_seat (event_id, seat_number),
    INDEX idx_event_status (event_id, status),
    INDEX idx_reserved_until (reserved_until),
    INDEX idx_version (version)
);

-- reservations table
CREATE TABLE reservations (
    reservation_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    seat_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    user_id VARCHAR(50) NOT NULL,
    session_id VARCHAR(100),
    expires_at DATETIME NOT NULL,
    status ENUM('ACTIVE', 'CONFIRMED', 'EXPIRED', 'CANCELLED') DEFAULT 'ACTIVE',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    INDEX idx_seat_id (seat_id),
    INDEX idx_expires_at (expires_at),
    INDEX idx_user_id (user_id),
    INDEX idx_status (status)
);
