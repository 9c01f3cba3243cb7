"""Deterministic sample data: the same options give the same rows, value for value.

Every random choice of event ``i`` comes from its own generator seeded with
``(seed, i)``, and ids are handed out in event order, so a chunk's rows do not depend
on how the events were cut into chunks. Times are offsets from ``start`` (a date, noon
UTC): the same ``--seed`` and ``--start`` reproduce the data exactly, and a later
``--start`` moves the whole calendar.

The rows keep every cross-database reference true (``tests/integration/data`` checks
them with SQL): each seat's event exists; a booked seat is in exactly one confirmed
booking, at the price it has; an event's ``available_seats`` counts its available
seats; a reserved seat has the active reservation of the user in ``reserved_by``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from ticketctl.data import tables as t

ROWS_PER_CHUNK = 60_000  # rows of all tables per chunk: ~6 MB of TSV, loaded while the next one is made
SEAT_ROW_LENGTH = 20
USERS_PER_SEATS = 20  # one user per this many seats: users come back for several events
FAILED_PAYMENT_EVERY = 25  # one booking in this many is preceded by another user's failed attempt
BLOCKED_SHARE = 0.005  # seats held back by the venue (camera positions, broken seats)

CITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # city, currency, venues
    ("São Paulo", "BRL", ("Allianz Parque", "Teatro Municipal de São Paulo", "Espaço Unimed")),
    ("Zürich", "CHF", ("Hallenstadion", "Tonhalle Zürich", "Kaufleuten")),
    ("Montréal", "CAD", ("Centre Bell", "Salle Wilfrid-Pelletier", "MTELUS")),
    ("Bogotá", "COP", ("Movistar Arena", "Teatro Colón de Bogotá", "Coliseo MedPlus")),
    ("Köln", "EUR", ("Lanxess Arena", "Kölner Philharmonie", "Palladium Köln")),
    ("Kraków", "PLN", ("Tauron Arena Kraków", "ICE Kraków", "Klub Studio")),
    ("Málaga", "EUR", ("Palacio de Deportes Martín Carpena", "Teatro Cervantes", "Sala París 15")),
    ("Reykjavík", "ISK", ("Harpa", "Laugardalshöll", "Gamla Bíó")),
    ("Genève", "CHF", ("Arena de Genève", "Victoria Hall", "Alhambra")),
    ("Medellín", "COP", ("Estadio Atanasio Girardot", "Teatro Pablo Tobón Uribe", "La Macarena")),
    ("Lisboa", "EUR", ("MEO Arena", "Coliseu dos Recreios", "Teatro São Luiz")),
    ("Paris", "EUR", ("Accor Arena", "Olympia", "Théâtre du Châtelet")),
    ("Berlin", "EUR", ("Uber Arena", "Philharmonie Berlin", "Tempodrom")),
    ("New York", "USD", ("Madison Square Garden", "Carnegie Hall", "Terminal 5")),
)
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    # category: title templates ({name}), tags, base price
    "concert": (
        ("{name} Live", "{name}: World Tour", "An Evening with {name}", "{name} — Acoustic Night"),
        ("live-music", "pop", "rock", "indie", "electronic", "jazz"),
        45,
    ),
    "theatre": (
        ("Les Misérables", "Cyrano de Bergerac", "La Casa de Bernarda Alba", "Peer Gynt", "Fausto"),
        ("drama", "musical", "classic", "premiere"),
        35,
    ),
    "opera": (
        ("La Bohème", "Tosca", "Carmen", "Così fan tutte", "Eugène Onéguine"),
        ("opera", "classical", "orchestra"),
        60,
    ),
    "sports": (
        ("{city} Derby", "Copa {city}", "{city} Open Finals", "Gala de Boxeo {city}"),
        ("football", "tennis", "boxing", "basketball", "finals"),
        30,
    ),
    "comedy": (
        ("{name} — Stand-up", "Noche de Comedia", "Soirée d'humour", "Impro Ëxtra"),
        ("stand-up", "improv", "family-friendly"),
        25,
    ),
    "festival": (
        ("Festival de Verão", "Sommerfestival {city}", "Fête de la Musique", "Noches de Flamenco"),
        ("outdoor", "festival", "multi-day", "food"),
        55,
    ),
}
ARTISTS = (
    "Björk",
    "Beyoncé",
    "Sigur Rós",
    "Mötley Crüe",
    "Café Tacvba",
    "Rosalía",
    "Zoë Keating",
    "Maná",
    "Céline Dion",
    "Ólafur Arnalds",
    "Stromae",
    "Natalia Lafourcade",
    "Aurora",
    "Ludovico Einaudi",
)
DESCRIPTIONS = (
    "Une soirée inoubliable à {city}.",
    "Uma noite única em {city}, com lugares numerados.",
    "Ein Abend der Extraklasse in {city}.",
    "Una noche única en {city}: puertas a las {doors}.",
    "An unforgettable night in {city}; doors open at {doors}.",
)
SECTIONS = (("FLOOR", "F", 0.15), ("LOWER-A", "LA", 0.15), ("LOWER-B", "LB", 0.15), ("LOWER-C", "LC", 0.15))
UPPER = ("UPPER", "U")
PROVIDER = "stripe"
SUCCEEDED_RESPONSE = '{"status": "succeeded"}'
DECLINED_RESPONSE = '{"status": "failed", "decline_code": "generic_decline"}'


@dataclass(frozen=True)
class SeedOptions:
    """What to make: ``events`` events of ``seats_per_event`` seats each, from ``seed`` and ``start``."""

    seed: int = 1
    events: int = 100
    seats_per_event: int = 500
    start: date = field(default_factory=lambda: datetime.now().date())
    booked: float = 0.15  # share of the seats of an event on sale that are booked
    reserved: float = 0.03  # share held by an active reservation

    @property
    def seats(self) -> int:
        return self.events * self.seats_per_event

    @property
    def anchor(self) -> datetime:
        """The moment the data describes: ``start`` at noon UTC (naive: the databases store UTC)."""
        return datetime.combine(self.start, time(12, 0))

    def as_dict(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "events": self.events,
            "seats_per_event": self.seats_per_event,
            "start": self.start.isoformat(),
            "booked": self.booked,
            "reserved": self.reserved,
        }


Chunk = dict[str, list[tuple[object, ...]]]
"""Rows of one chunk by table name, each row in the order of its table's columns."""


@dataclass
class _Counters:
    rule: int = 0
    reservation: int = 0
    booking: int = 0
    booking_seat: int = 0
    transaction: int = 0


@dataclass(frozen=True)
class _Rule:
    seat_type: str | None
    section: str | None
    price: Decimal
    valid_from: datetime | None
    valid_until: datetime | None
    priority: int
    active: bool

    def applies(self, seat_type: str, section: str, at: datetime) -> bool:
        return (
            self.active
            and self.seat_type in (None, seat_type)
            and self.section in (None, section)
            and (self.valid_from is None or self.valid_from <= at)
            and (self.valid_until is None or at < self.valid_until)
        )


def generate(options: SeedOptions) -> Iterator[Chunk]:
    """The rows of every table, a chunk of whole events at a time."""
    counters = _Counters()
    layout = seat_layout(options.seats_per_event)
    rows_per_event = max(1, int(options.seats_per_event * (1 + 2 * options.booked + options.reserved)) + 8)
    events_per_chunk = max(1, ROWS_PER_CHUNK // rows_per_event)
    chunk: Chunk = {table.name: [] for table in t.SEED_TABLES}
    in_chunk = 0
    for index in range(options.events):
        _event(options, index, layout, counters, chunk)
        in_chunk += 1
        if in_chunk == events_per_chunk:
            yield chunk
            chunk = {table.name: [] for table in t.SEED_TABLES}
            in_chunk = 0
    if in_chunk:
        yield chunk


def planned_rows(options: SeedOptions) -> dict[str, int | None]:
    """Rows per table known before generating (events, rules, seats, outbox); None for the rest."""
    return {
        t.EVENTS.name: options.events,
        t.PRICING_RULES.name: options.events * 6,
        t.OUTBOX.name: options.events,
        t.SEATS.name: options.seats,
        t.RESERVATIONS.name: None,
        t.BOOKINGS.name: None,
        t.BOOKING_SEATS.name: None,
        t.IDEMPOTENCY_KEYS.name: None,
        t.PAYMENTS.name: None,
    }


@cache
def seat_layout(seats: int) -> tuple[tuple[str, str, str, str], ...]:
    """``(seat_number, section, row, seat_type)`` of every seat of an event of ``seats`` seats.

    The same for every event of that size: the floor and three lower sections take 15 %
    each, the upper tier the rest, in rows of 20 seats. VIP is the floor's first two
    rows, PREMIUM the rest of the floor and the first three rows of a lower section.
    """
    layout: list[tuple[str, str, str, str]] = []
    remaining = seats
    for section, code, share in (*SECTIONS, (*UPPER, 1.0)):
        count = remaining if section == UPPER[0] else min(remaining, int(seats * share))
        remaining -= count
        for number in range(count):
            row_index, seat = divmod(number, SEAT_ROW_LENGTH)
            row = _row_label(row_index)
            if section == "FLOOR":
                seat_type = "VIP" if row_index < 2 else "PREMIUM"
            elif section.startswith("LOWER") and row_index < 3:
                seat_type = "PREMIUM"
            else:
                seat_type = "REGULAR"
            layout.append((f"{code}-{row}-{seat + 1}", section, row, seat_type))
    return tuple(layout)


@cache
def _seat_kinds(layout: tuple[tuple[str, str, str, str], ...]) -> tuple[tuple[int, ...], tuple[tuple[str, str], ...]]:
    """For each seat of ``layout``, the index of its (seat type, section) among the layout's few kinds; and the kinds.

    A seat's price depends only on its kind, so an event resolves a handful of prices, not one per seat.
    """
    keys = tuple(sorted({(seat_type, section) for _, section, _, seat_type in layout}))
    index = {key: number for number, key in enumerate(keys)}
    return tuple(index[(seat_type, section)] for _, section, _, seat_type in layout), keys


def _row_label(index: int) -> str:
    """A, B, …, Z, AA, AB, … (as a spreadsheet names its columns)."""
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(65 + rest) + label
    return label


def resolve_price(rules: list[_Rule], seat_type: str, section: str, at: datetime) -> Decimal:
    """The price of a seat as the inventory service resolves it: the matching rule of highest priority.

    Among equal priorities the first rule wins (the service orders by priority, then id).
    """
    best: _Rule | None = None
    for rule in rules:
        if rule.applies(seat_type, section, at) and (best is None or rule.priority > best.priority):
            best = rule
    if best is None:
        raise ValueError(f"no pricing rule for a {seat_type} seat in {section}")  # the generator's own bug
    return best.price


def _event(
    options: SeedOptions, index: int, layout: tuple[tuple[str, str, str, str], ...], counters: _Counters, chunk: Chunk
) -> None:
    rng = random.Random(f"ticketctl-seed:{options.seed}:{index}")
    event_id = index + 1
    anchor = options.anchor
    city, currency, venues = CITIES[rng.randrange(len(CITIES))]
    category = rng.choice(sorted(CATEGORIES))
    titles, tag_pool, base_price = CATEGORIES[category]
    name = rng.choice(titles).format(name=rng.choice(ARTISTS), city=city)
    event_date = datetime.combine(
        options.start + timedelta(days=rng.randint(3, 180)), time(rng.choice((18, 19, 20, 21)), rng.choice((0, 30)))
    )
    sale_start = event_date - timedelta(days=rng.randint(20, 120), hours=rng.randint(0, 12))
    created_at = min(sale_start, anchor) - timedelta(days=rng.randint(1, 30), minutes=rng.randint(0, 59))
    roll = rng.random()
    if roll < 0.04:
        status = "CANCELLED"
    elif sale_start > anchor:
        status = "UPCOMING"
    elif roll < 0.08:
        status = "SOLD_OUT"
    else:
        status = "ON_SALE"
    base = Decimal(base_price + 5 * rng.randint(0, 6))
    rules = _pricing_rules(base, sale_start, event_date)
    for number, (rule, rule_name) in enumerate(zip(rules, _RULE_NAMES, strict=True)):
        counters.rule += 1
        chunk[t.PRICING_RULES.name].append(
            (
                counters.rule,
                event_id,
                rule_name,
                rule.seat_type,
                rule.section,
                str(rule.price),
                currency,
                _dt(rule.valid_from),
                _dt(rule.valid_until),
                rule.priority,
                1 if rule.active else 0,
                _dt(created_at + timedelta(minutes=number)),
                _dt(created_at + timedelta(minutes=number)),
            )
        )
    prices = {key: resolve_price(rules, key[0], key[1], anchor) for key in _seat_kinds(layout)[1]}
    available = _seats(options, rng, event_id, status, layout, prices, sale_start, currency, counters, chunk)
    tags = sorted(rng.sample(tag_pool, k=min(len(tag_pool), rng.randint(1, 3))))
    description = rng.choice(DESCRIPTIONS).format(city=city, doors=f"{event_date.hour - 1}:{event_date.minute:02d}")
    chunk[t.EVENTS.name].append(
        (
            event_id,
            name,
            _dt(event_date),
            rng.choice(venues),
            city,
            category,
            description,
            json.dumps(tags),
            len(layout),
            available,
            status,
            _dt(sale_start),
            _dt(created_at),
        )
    )
    chunk[t.OUTBOX.name].append(
        (
            event_id,
            "event",
            "EventCreated",
            json.dumps({"eventId": event_id, "eventName": name}, ensure_ascii=False),
            _dt(created_at),
            0,
        )
    )


_RULE_NAMES = ("Standard", "Premium", "VIP", "Floor VIP package", "Early bird", "Last-minute")


def _pricing_rules(base: Decimal, sale_start: datetime, event_date: datetime) -> list[_Rule]:
    def money(factor: str) -> Decimal:
        return (base * Decimal(factor)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    return [
        _Rule("REGULAR", None, money("1"), None, None, 0, True),
        _Rule("PREMIUM", None, money("1.8"), None, None, 0, True),
        _Rule("VIP", None, money("3.5"), None, None, 0, True),
        _Rule("VIP", "FLOOR", money("4.5"), None, None, 10, True),
        _Rule("REGULAR", None, money("0.8"), sale_start, sale_start + timedelta(days=14), 5, True),
        _Rule(None, None, money("0.7"), event_date - timedelta(days=2), event_date, 20, False),
    ]


def _seats(
    options: SeedOptions,
    rng: random.Random,
    event_id: int,
    status: str,
    layout: tuple[tuple[str, str, str, str], ...],
    prices: dict[tuple[str, str], Decimal],
    sale_start: datetime,
    currency: str,
    counters: _Counters,
    chunk: Chunk,
) -> int:
    """Append the seats of one event, with their reservations and bookings; returns the available ones."""
    seats = chunk[t.SEATS.name]
    anchor = options.anchor
    created = _dt(sale_start - timedelta(days=1))
    first_seat_id = (event_id - 1) * options.seats_per_event + 1
    booked_share = 1.0 if status == "SOLD_OUT" else options.booked if status == "ON_SALE" else 0.0
    reserved_share = booked_share + (options.reserved if status == "ON_SALE" else 0.0)
    blocked_share = reserved_share + (BLOCKED_SHARE if status == "ON_SALE" else 0.0)
    users = max(100, options.seats // USERS_PER_SEATS)
    kinds, keys = _seat_kinds(layout)
    price_texts = [str(prices[key]) for key in keys]  # by kind of seat (type, section)
    available = 0
    booking: _Booking | None = None
    sold_span = max(1.0, (anchor - sale_start).total_seconds())
    draw, append = rng.random, seats.append  # the loop below runs once per seat: a million times
    sold_out, cancelled = status == "SOLD_OUT", status == "CANCELLED"
    for offset, (seat_number, section, row, seat_type) in enumerate(layout):
        seat_id = first_seat_id + offset
        price = price_texts[kinds[offset]]
        roll = 0.0 if sold_out else draw()
        if roll >= blocked_share and not cancelled:
            available += 1
            append((seat_id, event_id, seat_number, section, row, seat_type, price, "AVAILABLE", 0, None, None, None,
                    created))  # fmt: skip
            continue
        state, holder, until, booking_id = "BLOCKED", None, None, None  # a cancelled event's, or 0.5 % of the rest
        if cancelled:
            state = "BLOCKED"
        elif roll < booked_share:
            if booking is None or booking.full:
                if booking is not None:
                    booking.close(options, rng, currency, counters, chunk)
                at = sale_start + timedelta(seconds=int(draw() * sold_span))
                booking = _Booking(event_id, f"user-{rng.randrange(users):06d}", at, 1 + int(draw() * 4))
            booking.add(seat_id, prices[keys[kinds[offset]]])
            state, booking_id = "BOOKED", booking.id_placeholder(counters)
        elif roll < reserved_share:
            state, holder = "RESERVED", f"user-{rng.randrange(users):06d}"
            until = _dt(anchor + timedelta(minutes=5 + int(draw() * 10)))
            _reservation(counters, chunk, seat_id, event_id, holder, until, "ACTIVE", anchor - timedelta(minutes=2))
        append((seat_id, event_id, seat_number, section, row, seat_type, price, state, 0, holder, until, booking_id,
                created))  # fmt: skip
    if booking is not None:
        booking.close(options, rng, currency, counters, chunk)
    return available


def _reservation(
    counters: _Counters, chunk: Chunk, seat_id: int, event_id: int, user: str, expires: str | None, status: str,
    at: datetime,
) -> None:  # fmt: skip
    counters.reservation += 1
    session = f"sess-{counters.reservation:08x}"
    chunk[t.RESERVATIONS.name].append(
        (counters.reservation, seat_id, event_id, user, session, expires, status, _dt(at))
    )


@dataclass
class _Booking:
    """A confirmed booking being filled with seats; its id is taken when its first seat is added."""

    event_id: int
    user: str
    at: datetime
    size: int
    seats: list[tuple[int, Decimal]] = field(default_factory=list)
    booking_id: int = 0

    @property
    def full(self) -> bool:
        return len(self.seats) >= self.size

    @property
    def total(self) -> Decimal:
        return sum((price for _, price in self.seats), Decimal(0))

    def id_placeholder(self, counters: _Counters) -> int:
        if not self.booking_id:
            counters.booking += 1
            self.booking_id = counters.booking
        return self.booking_id

    def add(self, seat_id: int, price: Decimal) -> None:
        self.seats.append((seat_id, price))

    def close(self, options: SeedOptions, rng: random.Random, currency: str, counters: _Counters, chunk: Chunk) -> None:
        """Write the booking, its seats, key, reservations and payments; maybe another user's failed attempt first.

        The failed attempt is a booking of the same seats whose card was declined: the seats went back on sale.
        """
        if rng.randrange(FAILED_PAYMENT_EVERY) == 0:
            counters.booking += 1
            at = self.at - timedelta(minutes=20 + int(rng.random() * 60))
            user = f"user-{rng.randrange(max(100, options.seats // USERS_PER_SEATS)):06d}"
            failed = _Paid(counters.booking, f"pi_{options.seed}_{counters.booking:08d}", self.total, currency)
            self._write(options, counters, chunk, failed, user, "FAILED", at, None)
            failed.pay(options, counters, chunk, "AUTHORIZE", at + timedelta(seconds=5), declined=True)
        booking_id = self.id_placeholder(counters)
        confirmed = self.at + timedelta(seconds=30 + int(rng.random() * 240))
        paid = _Paid(booking_id, f"pi_{options.seed}_{booking_id:08d}", self.total, currency)
        self._write(options, counters, chunk, paid, self.user, "CONFIRMED", self.at, confirmed)
        for seat_id, _ in self.seats:
            _reservation(counters, chunk, seat_id, self.event_id, self.user, _dt(self.at + timedelta(minutes=10)),
                         "CONFIRMED", self.at)  # fmt: skip
        paid.pay(options, counters, chunk, "AUTHORIZE", self.at + timedelta(seconds=5))
        paid.pay(options, counters, chunk, "CAPTURE", confirmed)

    def _write(
        self,
        options: SeedOptions,
        counters: _Counters,
        chunk: Chunk,
        paid: _Paid,
        user: str,
        status: str,
        at: datetime,
        confirmed: datetime | None,
    ) -> None:
        """The booking row, its seats and its idempotency key."""
        payment_status = "SUCCESS" if status == "CONFIRMED" else "FAILED"
        chunk[t.BOOKINGS.name].append(
            (paid.booking_id, self.event_id, user, str(paid.amount), status, paid.payment_id, payment_status,
             f"TCK-{paid.booking_id:08d}", _dt(at), _dt(confirmed))
        )  # fmt: skip
        for seat_id, price in self.seats:
            counters.booking_seat += 1
            chunk[t.BOOKING_SEATS.name].append((counters.booking_seat, paid.booking_id, seat_id, str(price)))
        key = f"seed-{options.seed}-booking-{paid.booking_id}"
        chunk[t.IDEMPOTENCY_KEYS.name].append((key, paid.booking_id, _dt(at), _dt(at + timedelta(days=1))))


@dataclass(frozen=True)
class _Paid:
    """The payment of one booking with the provider."""

    booking_id: int
    payment_id: str
    amount: Decimal
    currency: str

    def pay(
        self,
        options: SeedOptions,
        counters: _Counters,
        chunk: Chunk,
        kind: str,
        at: datetime,
        *,
        declined: bool = False,
    ) -> None:
        counters.transaction += 1
        number = counters.transaction
        outcome = (
            ("FAILED", "card_declined", "Your card was declined.", DECLINED_RESPONSE)
            if declined
            else ("SUCCESS", None, None, SUCCEEDED_RESPONSE)
        )
        status, error_code, error_message, response = outcome
        chunk[t.PAYMENTS.name].append(
            (number, self.booking_id, self.payment_id, PROVIDER, f"ch_{options.seed}_{number:09d}", kind, status,
             str(self.amount), self.currency, f"seed-{options.seed}-pay-{number}", error_code, error_message,
             response, _dt(at), _dt(at))
        )  # fmt: skip


def _dt(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None
