"""The shared rate limit gives people's replies priority over bulk sends, on real Redis when
REDIS_URL is set (its Lua) and on the in-process Redis otherwise. Seconds are a clock the test
moves, so what a second holds does not depend on how fast the machine is."""
from __future__ import annotations

import math
import uuid

import fakeredis
import pytest
import redis

from delivery import rate_limit
from delivery.rate_limit import RateLimiter
from tests.conftest import SERVICES

PER_SECOND, RESERVE = 70, 5


@pytest.fixture(params=["embedded"] + (["services"] if SERVICES["redis"] else []))
def store(request):
    if request.param == "services":
        return redis.Redis.from_url(SERVICES["redis"])
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


class Full(Exception):
    """The limiter would wait for the next second."""


class Clock:
    """The limiter's `time`: a wait within the second moves it on; where the limiter would wait
    for the next second it raises Full instead, so each second is looked at on its own."""

    def __init__(self):
        self.now = 1_900_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if int(self.now + seconds) != int(self.now):
            raise Full
        self.now += seconds

    def next_second(self) -> None:
        self.now = float(int(self.now) + 1)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(rate_limit, "time", clock)
    return clock


def limiter(store) -> RateLimiter:
    return RateLimiter(store, f"test:rate:{uuid.uuid4().hex}", PER_SECOND, RESERVE)


def bulk_second(limit: RateLimiter) -> int:
    """Everything a bulk send gets in the current second, asking a batch at a time."""
    got = 0
    while True:
        try:
            got += limit.acquire(100, bulk=True)
        except Full:
            return got


def replies_second(limit: RateLimiter, asking: int) -> int:
    """People's replies asking one slot each in the current second: how many got it."""
    answered = 0
    for _ in range(asking):
        try:
            answered += limit.acquire(1)
        except Full:
            pass
    return answered


def test_bulk_takes_the_whole_rate_but_the_reserve_while_nobody_writes(store, clock):
    limit = limiter(store)
    for _ in range(3):
        assert bulk_second(limit) == PER_SECOND - RESERVE
        clock.next_second()


@pytest.mark.parametrize("asking", [20, 40])
def test_bulk_leaves_replies_what_they_ask_for(store, clock, asking):
    """People write `asking` messages a second during a bulk send. In the first second bulk
    already had its batch and some wait; from then on bulk leaves them what they asked for and
    the reserve on top, and every reply gets its slot in the second it asks."""
    limit = limiter(store)
    for second in range(5):
        bulk = bulk_second(limit)  # bulk asks first: the worst case for the replies
        answered = replies_second(limit, asking)
        if second == 0:
            assert (bulk, answered) == (PER_SECOND - RESERVE, RESERVE)
        else:
            assert (bulk, answered) == (PER_SECOND - RESERVE - asking, asking)
        clock.next_second()


def test_bulk_takes_the_whole_rate_again_once_people_stop_writing(store, clock):
    limit = limiter(store)
    assert replies_second(limit, 30) == 30
    clock.next_second()
    assert bulk_second(limit) == PER_SECOND - RESERVE - 30  # replies may still be asking a second later
    clock.next_second()
    assert bulk_second(limit) == PER_SECOND - RESERVE


def test_bulk_still_moves_while_replies_take_every_slot(store, clock):
    limit = limiter(store)
    assert replies_second(limit, PER_SECOND) == PER_SECOND
    clock.next_second()
    assert replies_second(limit, PER_SECOND - 1) == PER_SECOND - 1
    assert bulk_second(limit) == 1  # replies asked for everything: bulk goes on, one a second


def test_bulk_takes_its_share_a_quarter_at_a_time_so_replies_later_in_the_second_find_room(store, clock):
    limit = limiter(store)
    first = limit.acquire(100, bulk=True)  # as the second begins
    assert first == math.ceil((PER_SECOND - RESERVE) / 4)
    clock.now += 0.1  # nobody wrote a second ago; now 30 people do
    assert replies_second(limit, 30) == 30
    assert first + bulk_second(limit) == PER_SECOND - RESERVE - 30  # and bulk leaves them room from then on
