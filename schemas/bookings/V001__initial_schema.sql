-- bookings_db, owned by the booking service: bookings, their seats, the idempotency
-- keys that stop duplicate bookings, and every payment transaction.
--
-- Tables, columns, defaults, keys and indexes of `bookings`, `booking_seats` and
-- `idempotency_keys` are the seed's (phase 1, T1.3); `idx_booking_reference` duplicates
-- the UNIQUE key on booking_reference but is kept as the seed has it. ENGINE=InnoDB and
-- utf8mb4 are set on every table; the `payment_transactions` table is added.
-- event_id and seat_id point into other services' databases, so they have no keys.

CREATE TABLE bookings (
    booking_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    event_id BIGINT NOT NULL,
    user_id VARCHAR(50) NOT NULL,
    total_amount DECIMAL(10, 2) NOT NULL,
    status ENUM('PENDING', 'CONFIRMED', 'CANCELLED', 'FAILED') DEFAULT 'PENDING',
    payment_id VARCHAR(100),
    payment_status ENUM('PENDING', 'SUCCESS', 'FAILED') DEFAULT 'PENDING',
    booking_reference VARCHAR(50) UNIQUE NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    confirmed_at TIMESTAMP NULL,
    INDEX idx_user_id (user_id),
    INDEX idx_booking_reference (booking_reference),
    INDEX idx_status (status),
    INDEX idx_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE booking_seats (
    booking_seat_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    booking_id BIGINT NOT NULL,
    seat_id BIGINT NOT NULL,
    price DECIMAL(10, 2) NOT NULL,
    UNIQUE KEY uk_booking_seat (booking_id, seat_id),
    INDEX idx_seat_id (seat_id),
    INDEX idx_booking_id (booking_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE idempotency_keys (
    idempotency_key VARCHAR(100) PRIMARY KEY,
    booking_id BIGINT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP NOT NULL,
    INDEX idx_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Payment transactions: one row per operation with the payment provider (authorise,
-- capture, refund, void) for a booking. Why a table, when bookings already has
-- payment_id and payment_status: a booking sees several operations (a failed attempt,
-- a retry, a later refund), and reconciling with the provider's statement needs each
-- one with its amount, outcome and the provider's own id.
-- * uk_provider_transaction makes a replayed provider webhook insert nothing twice
--   (INSERT … ON DUPLICATE KEY UPDATE); NULL until the provider has answered.
-- * uk_idempotency_key is the key sent to the provider, so a retry after a timeout can
--   never charge twice.
-- * idx_status_created serves the reconciliation job: PENDING operations older than a
--   few minutes are asked about at the provider.
-- * bookings is in this database, so booking_id is a real key.
CREATE TABLE payment_transactions (
    transaction_id BIGINT PRIMARY KEY AUTO_INCREMENT,
    booking_id BIGINT NOT NULL,
    payment_id VARCHAR(100) NULL,  -- bookings.payment_id: the provider's payment (intent) id
    provider VARCHAR(50) NOT NULL,
    provider_transaction_id VARCHAR(100) NULL,
    transaction_type ENUM('AUTHORIZE', 'CAPTURE', 'REFUND', 'VOID') NOT NULL,
    -- the values of bookings.payment_status
    status ENUM('PENDING', 'SUCCESS', 'FAILED') NOT NULL DEFAULT 'PENDING',
    amount DECIMAL(10, 2) NOT NULL,
    currency CHAR(3) NOT NULL DEFAULT 'USD',
    idempotency_key VARCHAR(100) NULL,
    error_code VARCHAR(50) NULL,
    error_message VARCHAR(500) NULL,
    provider_response JSON NULL,  -- the provider's answer as received, for disputes
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    UNIQUE KEY uk_provider_transaction (provider, provider_transaction_id),
    UNIQUE KEY uk_idempotency_key (idempotency_key),
    INDEX idx_booking_id (booking_id),
    INDEX idx_payment_id (payment_id),
    INDEX idx_status_created (status, created_at),
    CONSTRAINT fk_payment_transactions_booking FOREIGN KEY (booking_id) REFERENCES bookings (booking_id),
    CONSTRAINT chk_payment_transactions_amount CHECK (amount >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
