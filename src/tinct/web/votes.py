"""Turing-test votes in SQLite: one connection per call, WAL mode, safe for concurrent writers.

WAL lets readers run while one writer commits; a writer that finds the database locked waits
up to ``timeout`` seconds (SQLite's busy handler) instead of failing. Each vote is one
autocommitted ``INSERT``, so threads, worker processes and separate servers can share a file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from tinct.studies.turing import wilson_interval

SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,            -- Unix time of the vote
    study TEXT NOT NULL,              -- the study's id (from its manifest)
    session TEXT NOT NULL,            -- a random id the visitor's browser keeps
    scene TEXT NOT NULL,              -- the scene id within the study
    model TEXT,                       -- the colorizing model; NULL when the real photo was shown
    answered_real INTEGER NOT NULL,   -- 1: the visitor said "real", 0: "colorized"
    response_ms INTEGER               -- time from showing the image to the answer
);
CREATE INDEX IF NOT EXISTS votes_by_study ON votes (study, model);
CREATE TABLE IF NOT EXISTS sessions (
    session TEXT PRIMARY KEY,         -- issued by the server (POST /api/turing/session)
    study TEXT NOT NULL,
    created REAL NOT NULL
);
"""
# one vote per participant and scene: a replayed or repeated vote is refused, not counted
UNIQUE_VOTE = ("CREATE UNIQUE INDEX IF NOT EXISTS one_vote_per_scene "
               "ON votes (study, session, scene)")


class DuplicateVote(ValueError):
    """This participant has already answered for this scene."""


class UnknownSession(ValueError):
    """The participant id was not issued by this study's server."""


@dataclass(frozen=True)
class Tally:
    """Votes on one kind of image: how many, and how many answered "real"."""

    votes: int
    judged_real: int

    def as_dict(self) -> dict:
        low, high = wilson_interval(self.judged_real, self.votes)
        rate = self.judged_real / self.votes if self.votes else None
        return {"votes": self.votes, "judged_real": self.judged_real, "rate": rate,
                "ci95": [low, high]}


class VoteStore:
    """The votes file. Creating the store creates the file and table when missing."""

    def __init__(self, path: str | os.PathLike, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            try:
                conn.execute(UNIQUE_VOTE)
            except sqlite3.IntegrityError:  # a file from before the rule, with repeats in it
                raise OSError(f"{self.path}: holds repeated votes of one participant on one "
                              "scene (recorded before tinct refused them); start a new "
                              "votes file") from None

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise OSError(f"{self.path}: cannot open the votes database ({exc})") from None
        conn.execute("PRAGMA synchronous=NORMAL")  # durable enough in WAL mode, and fast
        return conn

    def new_session(self, study: str) -> str:
        """Issues a participant id for ``study`` (random, 128 bits) and stores it."""
        session = secrets.token_urlsafe(16)
        with closing(self._connect()) as conn:
            conn.execute("INSERT INTO sessions (session, study, created) VALUES (?, ?, ?)",
                         (session, study, time.time()))
        return session

    def record(self, *, study: str, session: str, scene: str, model: str | None,
               answered_real: bool, response_ms: int | None = None) -> int:
        """Stores one vote (autocommitted); returns its row id. Raises
        :class:`UnknownSession` for an id this store did not issue for ``study`` and
        :class:`DuplicateVote` for a second vote of one participant on one scene."""
        with closing(self._connect()) as conn:
            known = conn.execute("SELECT 1 FROM sessions WHERE session = ? AND study = ?",
                                 (session, study)).fetchone()
            if known is None:
                raise UnknownSession(session)
            try:
                cur = conn.execute(
                    "INSERT INTO votes (created, study, session, scene, model, answered_real, "
                    "response_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (time.time(), study, session, scene, model, int(answered_real),
                     response_ms))
            except sqlite3.IntegrityError:
                raise DuplicateVote(scene) from None
            return int(cur.lastrowid)

    def score(self, study: str, session: str) -> tuple[int, int]:
        """(votes, correct answers) of one participant."""
        with closing(self._connect()) as conn:
            n, k = conn.execute(
                "SELECT COUNT(*), SUM(answered_real = (model IS NULL)) FROM votes "
                "WHERE study = ? AND session = ?", (study, session)).fetchone()
        return int(n), int(k or 0)

    def tallies(self, study: str) -> dict[str | None, Tally]:
        """Model (``None`` = real photos) -> :class:`Tally` of the votes of ``study``."""
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT model, COUNT(*), SUM(answered_real) FROM votes WHERE study = ? "
                "GROUP BY model", (study,)).fetchall()
        return {model: Tally(int(n), int(k or 0)) for model, n, k in rows}

    def scene_tallies(self, study: str) -> dict[tuple[str, str | None], Tally]:
        """(scene, model) (``None`` = the real photo) -> :class:`Tally` of ``study``."""
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT scene, model, COUNT(*), SUM(answered_real) FROM votes "
                "WHERE study = ? GROUP BY scene, model", (study,)).fetchall()
        return {(scene, model): Tally(int(n), int(k or 0)) for scene, model, n, k in rows}

    def export(self, study: str) -> list[tuple]:
        """Every vote of ``study`` in order: (created, participant, scene, model or None,
        answered_real, response_ms). The participant is a short hash of the session id, so
        an export cannot be used to vote as someone else."""
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT created, session, scene, model, answered_real, response_ms "
                "FROM votes WHERE study = ? ORDER BY id", (study,)).fetchall()
        return [(created, hashlib.sha256(session.encode()).hexdigest()[:10], scene, model,
                 answered, ms) for created, session, scene, model, answered, ms in rows]

    def count(self, study: str | None = None) -> int:
        with closing(self._connect()) as conn:
            if study is None:
                return int(conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0])
            return int(conn.execute("SELECT COUNT(*) FROM votes WHERE study = ?",
                                    (study,)).fetchone()[0])
