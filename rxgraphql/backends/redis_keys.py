"""Redis key names, the Lua scripts of the anchor lifecycle, and the small codecs the Redis modules share.

Every lifecycle transition is one script that reads the Redis server's clock (``TIME``), never a process's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import AnchorState

PREFIX = "rx:"
CONTROL = PREFIX + "ctl"
RESET_MESSAGE = "*reset"
SEP = "\t"

# KEYS: state hash, backlog list, active hash of the channel.
# ARGV: anchor, owner, lease ms, epoch, control channel, message prefix.
BEGIN_HEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local st = redis.call('HGET', KEYS[1], 'state')
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease') or '0')
if st == 'hot' then return 'hot' end
if (st == 'heating' or st == 'cooling') and lease > now then return 'busy' end
redis.call('HSET', KEYS[1], 'state', 'heating', 'owner', ARGV[2], 'lease', now + tonumber(ARGV[3]),
           'epoch', ARGV[4])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[3], ARGV[1], 'heating')
redis.call('PUBLISH', ARGV[5], ARGV[6] .. 'heating' .. '\t' .. ARGV[2])
return 'claimed'
"""

# KEYS: state hash. ARGV: owner, lease ms, floor version (0: just renew).
RENEW_HEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HGET', KEYS[1], 'state') ~= 'heating' or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return -1
end
redis.call('HSET', KEYS[1], 'lease', now + tonumber(ARGV[2]))
local floor = tonumber(ARGV[3])
if floor > 0 then
  local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
  if ver < floor then redis.call('HSET', KEYS[1], 'ver', floor) end
  return redis.call('HINCRBY', KEYS[1], 'ver', 1)
end
return 0
"""

# KEYS: state hash, backlog, active hash. ARGV: anchor, owner, version, root, control, message prefix.
FINISH_HEAT = """
if redis.call('HGET', KEYS[1], 'state') ~= 'heating' or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then
  return false
end
redis.call('HSET', KEYS[1], 'state', 'hot', 'committed', ARGV[3], 'root', ARGV[4])
redis.call('HDEL', KEYS[1], 'owner', 'lease')
redis.call('HSET', KEYS[3], ARGV[1], 'hot')
local backlog = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[5], ARGV[6] .. 'hot')
return backlog
"""

# KEYS: state hash, backlog, active hash. ARGV: anchor, owner, control, message prefix.
ABORT = """
local st = redis.call('HGET', KEYS[1], 'state')
if (st ~= 'heating' and st ~= 'cooling') or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'cold')
redis.call('HDEL', KEYS[1], 'owner', 'lease', 'committed', 'epoch', 'root')
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[3], ARGV[4] .. 'cold')
return 1
"""

# KEYS: state hash, backlog. ARGV: items...
NOTE_BACKLOG = """
if redis.call('HGET', KEYS[1], 'state') ~= 'heating' then return 0 end
redis.call('RPUSH', KEYS[2], unpack(ARGV))
return 1
"""

# KEYS: state hash. ARGV: version.
COMMITTED = """
local c = tonumber(redis.call('HGET', KEYS[1], 'committed') or '0')
if c < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'committed', ARGV[1]) end
return 1
"""

# KEYS: state hash, members zset. ARGV: member, lease ms, ttl ms, remove (1) or add (0).
MEMBER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
end
redis.call('HSET', KEYS[1], 'seen', now, 'ttl', ARGV[3])
return now
"""

# KEYS: state hash, members zset, active hash. ARGV: anchor, owner, lease ms, control, message prefix,
# apply (1) or only look (0), orphan (1: the anchor is not active, its stored records are leftovers).
# Returns {verdict, idle ms}.
BEGIN_COOL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local st = redis.call('HGET', KEYS[1], 'state')
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease') or '0')
if ARGV[7] == '1' then
  if st == 'hot' or ((st == 'heating' or st == 'cooling') and lease > now) then return {'active', 0} end
else
  if st ~= 'hot' then return {st or 'cold', 0} end
  if redis.call('ZCOUNT', KEYS[2], now, '+inf') > 0 then return {'watched', 0} end
  local idle = now - tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
  if idle < tonumber(redis.call('HGET', KEYS[1], 'ttl') or '0') then return {'fresh', idle} end
end
local idle = now - tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
if ARGV[6] ~= '1' then return {'expire', idle} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('HSET', KEYS[1], 'state', 'cooling', 'owner', ARGV[2], 'lease', now + tonumber(ARGV[3]))
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. 'cooling')
return {'expire', idle}
"""

# KEYS: state hash, backlog. ARGV: owner, control, message prefix.
FINISH_COOL = """
if redis.call('HGET', KEYS[1], 'state') ~= 'cooling' or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[3] .. 'cold')
return 1
"""

# KEYS: state hash, backlog, active hash. ARGV: anchor, control, message prefix.
DROP = """
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3] .. 'cold')
return 1
"""

# KEYS: lock, state hash. ARGV: token, ttl ms, read the head (1) or not (0).
# Returns {0} when another writer holds the lock; else {1} or, reading the head, {1, state, epoch, root,
# version}: the anchor's next version, taken with the lock when the anchor is hot (the edit under this lock
# needs one; one it leaves unused is a gap, which no reader minds), false otherwise.
LOCK = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0} end
if ARGV[3] ~= '1' then return {1} end
local head = redis.call('HMGET', KEYS[2], 'state', 'epoch', 'root')
local version = false
if head[1] == 'hot' then version = redis.call('HINCRBY', KEYS[2], 'ver', 1) end
return {1, head[1], head[2], head[3], version}
"""

UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: run id key. ARGV: run id of the server. 1 when the caller must wipe the state of a former run.
CLAIM_RUN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def state_key(channel: str, anchor: str) -> str:
    return f"{PREFIX}s:{channel}:{anchor}"


def backlog_key(channel: str, anchor: str) -> str:
    return f"{PREFIX}b:{channel}:{anchor}"


def members_key(channel: str, anchor: str) -> str:
    return f"{PREFIX}m:{channel}:{anchor}"


def lock_key(channel: str, anchor: str) -> str:
    return f"{PREFIX}l:{channel}:{anchor}"


def active_key(channel: str) -> str:
    return f"{PREFIX}act:{channel}"


def message_prefix(channel: str, anchor: str) -> str:
    return f"{channel}{SEP}{anchor}{SEP}"


def wipe_state(client: redis.Redis) -> None:
    """Delete the lifecycle state of every anchor (a new Redis run, ``migrate``)."""
    stale: list[Any] = []
    for pattern in ("s:*", "b:*", "l:*", "act:*", "m:*"):
        stale.extend(client.scan_iter(match=PREFIX + pattern, count=1000))
    for start in range(0, len(stale), 500):
        client.unlink(*stale[start : start + 500])


def unavailable(error: BaseException) -> bool:
    return isinstance(error, RedisConnectionError | RedisTimeoutError)


def as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Scripts:
    def __init__(self, client: redis.Redis) -> None:
        self.begin_heat = client.register_script(BEGIN_HEAT)
        self.renew_heat = client.register_script(RENEW_HEAT)
        self.finish_heat = client.register_script(FINISH_HEAT)
        self.abort = client.register_script(ABORT)
        self.note_backlog = client.register_script(NOTE_BACKLOG)
        self.committed = client.register_script(COMMITTED)
        self.member = client.register_script(MEMBER)
        self.begin_cool = client.register_script(BEGIN_COOL)
        self.finish_cool = client.register_script(FINISH_COOL)
        self.lock = client.register_script(LOCK)
        self.unlock = client.register_script(UNLOCK)
        self.drop = client.register_script(DROP)
        self.claim_run = client.register_script(CLAIM_RUN)


class AsyncScripts:
    def __init__(self, client: aredis.Redis) -> None:
        self.begin_heat = client.register_script(BEGIN_HEAT)
        self.renew_heat = client.register_script(RENEW_HEAT)
        self.finish_heat = client.register_script(FINISH_HEAT)
        self.abort = client.register_script(ABORT)
        self.member = client.register_script(MEMBER)
        self.begin_cool = client.register_script(BEGIN_COOL)
        self.finish_cool = client.register_script(FINISH_COOL)


def parse_state(raw: Any) -> AnchorState:
    """An anchor's state as Redis stores and announces it (absent or unknown: cold)."""
    if raw is None:
        return AnchorState.COLD
    try:
        return AnchorState(as_text(raw))
    except ValueError:
        return AnchorState.COLD


#: The fields of an anchor's state hash an edit reads (with the anchor's lock, in one round trip).
HEAD_FIELDS = ["state", "epoch", "root"]


@dataclass(frozen=True)
class AnchorHead:
    """What an edit needs of an anchor's state hash: its state, epoch and root (encoded), and the version
    taken with the lock (None when the head was read without one)."""

    state: AnchorState
    epoch: str | None
    root: str | None
    version: int | None = None

    @classmethod
    def parse(cls, raw: Sequence[Any]) -> AnchorHead:
        """From the ``HMGET`` of ``HEAD_FIELDS``, or the head the ``LOCK`` script answers (and its version;
        Lua's false and nil both arrive as None)."""
        state, epoch, root, *version = raw
        return cls(
            parse_state(state),
            None if epoch is None else as_text(epoch),
            None if root is None else as_text(root),
            int(version[0]) if version and version[0] is not None else None,
        )


def encode_items(items: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{label}{SEP}{pk}" for label, pk in items]


def decode_items(raw: Iterable[Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in raw:
        label, _, pk = as_text(item).partition(SEP)
        out.append((label, pk))
    return out
