-- inventory_db, owned by the inventory service (Go): seats, their reservations, and the
-- audit trail of every seat status change.
--
-- Tables, columns, defaults and indexes of `seats` and `reservations` are the seed's
-- (phase 1, T1.3), with one correction: the seed's bare `row_number` column is a syntax
-- error since MySQL 8.0.2 and MariaDB 10.7, where ROW_NUMBER became a reserved word (the
-- window function); it is quoted here, and must be quoted in every query that names it.
-- ENGINE=InnoDB and utf8mb4 are set on every table. No foreign keys: event_id and
-- booking_id point into other services' databases.

CREATE TABLE seats (
    seat_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    event_id BIGINT NOT NULL,
    seat_number VARCHAR(20) NOT NULL,
    section VARCHAR(50),
    `row_number` VARCHAR(10),
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Seat audit: one row per seat status change, append-only. Why: in a flash sale the
-- question "who had this seat, when, and why did it change" decides disputes and is the
-- only way to prove there was no double booking after the fact.
-- * The inventory service inserts the row in the same transaction as the UPDATE of the
--   seat, so the trail is exactly as complete as the seat changes. A trigger was not
--   used: it would hide extra work inside the hottest UPDATE of the system.
-- * old_version/new_version are the optimistic-lock versions of `seats`: consecutive
--   rows of one seat must chain without a gap, which proves no update was lost.
-- * No foreign key to seats: an audit row must never block, or be removed with, a seat.
-- * created_at has microseconds: one seat may change several times within a second.
CREATE TABLE seat_audit (
    audit_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    seat_id BIGINT NOT NULL,
    -- copied from the seat: audits are read per event (reports, disputes)
    event_id BIGINT NOT NULL,
    old_status ENUM('AVAILABLE', 'RESERVED', 'BOOKED', 'BLOCKED') NULL,  -- NULL when the seat is created
    new_status ENUM('AVAILABLE', 'RESERVED', 'BOOKED', 'BLOCKED') NOT NULL,
    old_version BIGINT NULL,
    new_version BIGINT NOT NULL,
    actor_type ENUM('USER', 'SYSTEM', 'ADMIN') NOT NULL DEFAULT 'SYSTEM',
    actor_id VARCHAR(50) NULL,  -- a user_id, an admin's id, or the job's name (e.g. 'reservation-expiry')
    reservation_id BIGINT NULL,
    booking_id BIGINT NULL,
    reason VARCHAR(255) NULL,  -- e.g. 'reservation expired', 'payment failed', 'admin block'
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    INDEX idx_seat_created (seat_id, created_at),
    INDEX idx_event_created (event_id, created_at),
    INDEX idx_reservation_id (reservation_id),
    INDEX idx_booking_id (booking_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
