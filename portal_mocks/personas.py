"""Synthetic patients, chosen at a portal's login page by username.

Every persona exists at every portal; the record's content follows the
portal (clinical resources at hospitals and clinics, Coverage and
ExplanationOfBenefit at the payer) and its size follows the persona.

| username | who | resources (about) |
|---|---|---|
| `alice` | healthy adult, a few visits | 50 |
| `bob` | chronic conditions (diabetes, hypertension, CKD...) | 500 |
| `carol` | mid-size history | 150 |
| `dora` | long complex history | 3,200 |
| `erin` | empty record (the Patient resource only) | 1 |
| `mia` | Medicare member (meant for `bluebutton`) | 60 |

Passwords: any non-empty password is accepted except the literal `wrong`
(which shows the login page again with an error, as a bad password would).
"""

from __future__ import annotations

from dataclasses import dataclass

REJECTED_PASSWORD = "wrong"


@dataclass(frozen=True)
class Persona:
    username: str
    given: str
    gender: str
    age: int
    size: int  # total resources including the Patient
    profile: str  # healthy | chronic | complex | empty | member
    summary: str


PERSONAS: dict[str, Persona] = {
    p.username: p
    for p in (
        Persona("alice", "Alice", "female", 34, 50, "healthy", "healthy adult, a few visits"),
        Persona("bob", "Bob", "male", 67, 500, "chronic", "chronic conditions, regular labs"),
        Persona("carol", "Carol", "female", 45, 150, "healthy", "mid-size history"),
        Persona("dora", "Dora", "female", 82, 3200, "complex", "long complex history"),
        Persona("erin", "Erin", "female", 25, 1, "empty", "empty record"),
        Persona("mia", "Mia", "female", 71, 60, "member", "Medicare member"),
    )
}


def get(username: str) -> Persona | None:
    return PERSONAS.get(username.strip().lower())


def check_password(password: str) -> bool:
    return bool(password) and password != REJECTED_PASSWORD
