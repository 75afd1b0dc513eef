//! The Lua scripts of the Redis store: each multi-key change runs as one
//! script, so Redis applies it atomically. Keys and arguments are described
//! above each script, with what it returns.

use std::sync::LazyLock;

use ::redis::Script;

macro_rules! script {
    ($name:ident, $source:expr) => {
        pub(super) static $name: LazyLock<Script> = LazyLock::new(|| Script::new($source));
    };
}

// A Lua function shared by the scripts that remove all of a user's trusted
// browsers: index key, browser key prefix, token key prefix, uid. Removes
// each browser of the index that is the user's, with its token key, then the
// index; returns how many browsers it removed.
macro_rules! remove_browsers_lua {
    () => {
        r"local function remove_browsers(index, browser_prefix, token_prefix, uid)
  local n = 0
  for _, id in ipairs(redis.call('SMEMBERS', index)) do
    local k = browser_prefix .. id
    local v = redis.call('GET', k)
    if v then
      local b = cjson.decode(v)
      if b.uid == uid then
        redis.call('DEL', k, token_prefix .. b.token_hash)
        n = n + 1
      end
    end
  end
  redis.call('DEL', index)
  return n
end
"
    };
}

// A Lua function shared by the scripts that append an audit event (the
// changes that record themselves, and APPEND_AUDIT): the store-wide sequence
// key, the subject's index key, the event's JSON, then details to set in it
// from the change's outcome as name, value pairs (none when the event was
// known in full beforehand). Returns the event's id. A script that removes
// before it appends is still all or nothing when Redis is out of memory:
// Redis checks the memory limit only until a script's first write.
macro_rules! append_audit_lua {
    () => {
        r"local function append_audit(seq, index, json, ...)
  local outcome = {...}
  if #outcome > 0 then
    local event = cjson.decode(json)
    for i = 1, #outcome, 2 do event.details[outcome[i]] = tostring(outcome[i + 1]) end
    json = cjson.encode(event)
  end
  local id = redis.call('INCR', seq)
  redis.call('ZADD', index, id, id .. ':' .. json)
  return id
end
"
    };
}

// Compare-and-set keeping the TTL: 1 set, 0 missing, 2 changed meanwhile.
script!(
    CAS_SET,
    r"local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return 2 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1"
);

// Compare-and-set of a hash field: 1 set, 0 missing, 2 changed meanwhile.
script!(
    HASH_CAS_SET,
    r"local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if cur ~= ARGV[2] then return 2 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1"
);

// A device's last use, without reading it first: the record as this
// provider writes it (serde, compact) ends with its `last_used_at`, which is
// replaced in place. KEYS devices hash; ARGV id, the new value as JSON.
// 1 done, 0 no such device, 2 the record ends otherwise (the caller then
// updates it the general way).
script!(
    TOUCH_DEVICE,
    r#"local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local new, n = string.gsub(cur, ',"last_used_at":[^,}]*}$', ',"last_used_at":' .. ARGV[2] .. '}')
if n ~= 1 then return 2 end
redis.call('HSET', KEYS[1], ARGV[1], new)
return 1"#
);

// KEYS user, email, users, search; ARGV json, uid, search members...
// 0 created, 1 uid taken, 2 email taken.
script!(
    CREATE_USER,
    r"if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[2])
for i = 3, #ARGV do redis.call('ZADD', KEYS[4], 0, ARGV[i]) end
return 0"
);

// KEYS user, old email, new email, search; ARGV expected json, new json, uid,
// n old members, old members..., new members...
// 0 updated, 1 missing, 2 email taken, 3 changed meanwhile.
script!(
    UPDATE_USER,
    r"local cur = redis.call('GET', KEYS[1])
if not cur then return 1 end
if cur ~= ARGV[1] then return 3 end
local owner = redis.call('GET', KEYS[3])
if owner and owner ~= ARGV[3] then return 2 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[3])
local n = tonumber(ARGV[4])
for i = 5, 4 + n do redis.call('ZREM', KEYS[4], ARGV[i]) end
for i = 5 + n, #ARGV do redis.call('ZADD', KEYS[4], 0, ARGV[i]) end
redis.call('SET', KEYS[1], ARGV[2])
return 0"
);

// KEYS record, zset; ARGV json, id. 1 created, 0 exists.
script!(
    CREATE_LISTED,
    r"if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 1"
);

// KEYS zset; ARGV record key prefix. The records in id order.
script!(
    LIST_ZSET_RECORDS,
    r"local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local v = redis.call('GET', ARGV[1] .. id)
  if v then table.insert(out, v) end
end
return out"
);

// KEYS pointer; ARGV target key prefix. The record the pointer names, or nil.
script!(
    GET_VIA,
    r"local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', ARGV[1] .. id)"
);

// KEYS device owner, user's devices; ARGV uid, id, json. 1 created, 0 id
// taken (by any user's device).
script!(
    CREATE_DEVICE,
    r"if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1"
);

// Layout 1 → 2 for one user. KEYS old device index, user's devices hash;
// ARGV old device key prefix, device owner key prefix, uid. Number moved.
script!(
    MOVE_DEVICES_TO_HASH,
    r"local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('GET', ARGV[1] .. id)
  if v then
    redis.call('HSET', KEYS[2], id, v)
    redis.call('SET', ARGV[2] .. id, ARGV[3])
    redis.call('DEL', ARGV[1] .. id)
    n = n + 1
  end
end
redis.call('DEL', KEYS[1])
return n"
);

// KEYS user index; ARGV record key prefix. The indexed records; entries
// whose record is gone (expired) are dropped from the index.
script!(
    LIST_INDEXED,
    r"local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('GET', ARGV[1] .. id)
  if v then table.insert(out, v) else redis.call('SREM', KEYS[1], id) end
end
return out"
);

// KEYS user's devices, device owner, audit sequence, user's audit index;
// ARGV id, audit event json. 1 deleted (and recorded), 0 not this user's.
script!(
    DELETE_DEVICE,
    concat!(
        append_audit_lua!(),
        r"if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
append_audit(KEYS[3], KEYS[4], ARGV[2])
return 1"
    )
);

// KEYS user, user's devices, user's recovery codes, user's browsers, audit
// sequence, user's audit index; ARGV expected user json, stamped user json,
// device owner key prefix, browser key prefix, browser token key prefix, uid,
// audit event json, its details for the devices and the browsers removed.
// {devices deleted, browsers deleted}; {-1} missing, {-2} changed meanwhile
// (nothing written then).
script!(
    RESET_DEVICES,
    concat!(
        remove_browsers_lua!(),
        append_audit_lua!(),
        r"local cur = redis.call('GET', KEYS[1])
if not cur then return {-1} end
if cur ~= ARGV[1] then return {-2} end
redis.call('SET', KEYS[1], ARGV[2])
local ids = redis.call('HKEYS', KEYS[2])
for _, id in ipairs(ids) do redis.call('DEL', ARGV[3] .. id) end
redis.call('DEL', KEYS[2], KEYS[3])
local n = remove_browsers(KEYS[4], ARGV[4], ARGV[5], ARGV[6])
append_audit(KEYS[5], KEYS[6], ARGV[7], ARGV[8], #ids, ARGV[9], n)
return {#ids, n}"
    )
);

// KEYS user's devices, device owner, audit sequence, user's audit index;
// ARGV id, audit event json. 1 deleted (and recorded), 0 not this user's,
// 2 the user's only device (kept).
script!(
    DELETE_DEVICE_UNLESS_LAST,
    concat!(
        append_audit_lua!(),
        r"if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HLEN', KEYS[1]) <= 1 then return 2 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
append_audit(KEYS[3], KEYS[4], ARGV[2])
return 1"
    )
);

// KEYS pending, device owner; ARGV json, ttl ms. 1 stored, 0 id taken.
script!(
    PUT_PENDING,
    r"if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1"
);

// KEYS pending, device owner, user's devices, user's recovery codes, user,
// audit sequence, user's audit index; ARGV expected pending json, device
// json, id, uid, 1 to set the first device's recovery codes (else 0),
// expected user json ('' for none), the confirmation's audit event json, the
// codes' audit event json, the most devices allowed, their hashes...
// 1 confirmed, 3 confirmed as the user's first device, 0 pending gone or
// changed, 2 device id taken, 4 the user changed (read again: a reset of the
// devices voids enrolments started before it), 5 the user has the most
// devices allowed; nothing written unless 1 or 3.
script!(
    CONFIRM_ENROLLMENT,
    concat!(
        append_audit_lua!(),
        r"if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if (redis.call('GET', KEYS[5]) or '') ~= ARGV[6] then return 4 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
local devices = redis.call('HLEN', KEYS[3])
if devices >= tonumber(ARGV[9]) then return 5 end
local first = devices == 0
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[2])
append_audit(KEYS[6], KEYS[7], ARGV[7])
if not first then return 1 end
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[4])
  for i = 10, #ARGV do redis.call('SADD', KEYS[4], ARGV[i]) end
  append_audit(KEYS[6], KEYS[7], ARGV[8])
end
return 3"
    )
);

// KEYS user's recovery codes, audit sequence, user's audit index; ARGV audit
// event json, the new hashes...
script!(
    REPLACE_RECOVERY_CODES,
    concat!(
        append_audit_lua!(),
        r"redis.call('DEL', KEYS[1])
for i = 2, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end
append_audit(KEYS[2], KEYS[3], ARGV[1])
return 1"
    )
);

// KEYS browser, token, user index; ARGV json, id, ttl ms. 1 created, 0 taken.
script!(
    CREATE_BROWSER,
    r"if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[2])
return 1"
);

// KEYS browser, user index, audit sequence, user's audit index; ARGV uid,
// id, token key prefix, audit event json. 1 revoked (and recorded), 0 not
// this user's.
script!(
    REVOKE_BROWSER,
    concat!(
        append_audit_lua!(),
        r"local v = redis.call('GET', KEYS[1])
if not v then redis.call('SREM', KEYS[2], ARGV[2]) return 0 end
local b = cjson.decode(v)
if b.uid ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], ARGV[3] .. b.token_hash)
redis.call('SREM', KEYS[2], ARGV[2])
append_audit(KEYS[3], KEYS[4], ARGV[4])
return 1"
    )
);

// KEYS user index, audit sequence, user's audit index; ARGV browser key
// prefix, token key prefix, uid, audit event json, its detail for the number
// revoked. Number revoked.
script!(
    REVOKE_ALL_BROWSERS,
    concat!(
        remove_browsers_lua!(),
        append_audit_lua!(),
        r"local n = remove_browsers(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
append_audit(KEYS[2], KEYS[3], ARGV[4], ARGV[5], n)
return n"
    )
);

// KEYS token, family; ARGV json, ttl ms, hash. 1 stored, 0 hash taken.
script!(
    PUT_REFRESH,
    r"if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1"
);

// KEYS code, token, family, redeemed code; ARGV token json, ttl ms, token
// hash, family id, ms to remember the redeemed code (0: not at all).
// 1 redeemed, 0 code gone, 2 token hash taken; nothing written unless 1.
script!(
    REDEEM_CODE,
    r"if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
if tonumber(ARGV[5]) > 0 then redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[5]) end
return 1"
);

// KEYS old, new, family; ARGV expected old json, used old json, new json,
// new ttl ms, new hash. 1 rotated, 0 old gone, 2 old changed, 3 new taken.
script!(
    ROTATE_REFRESH,
    r"local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return 2 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 3 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
return 1"
);

// KEYS family; ARGV token key prefix. Number of tokens removed.
script!(
    REVOKE_FAMILY,
    r"local n = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. h)
end
redis.call('DEL', KEYS[1])
return n"
);

// KEYS token; ARGV family key prefix, hash. 1 revoked, 0 unknown.
script!(
    REVOKE_REFRESH,
    r"local v = redis.call('GET', KEYS[1])
if not v then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[1] .. cjson.decode(v).family_id, ARGV[2])
return 1"
);

// KEYS counters. Gives one hit back on each, removing a counter (its window)
// with its last hit. 0.
script!(
    RATE_RELEASE,
    r"for _, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n > 1 then redis.call('DECR', key) elseif n == 1 then redis.call('DEL', key) end
end
return 0"
);

// KEYS sequence, subject zset; ARGV event json. The new id.
script!(
    APPEND_AUDIT,
    concat!(
        append_audit_lua!(),
        "return append_audit(KEYS[1], KEYS[2], ARGV[1])"
    )
);

// KEYS key; ARGV value. What is stored afterwards.
script!(
    SET_IF_ABSENT,
    r"redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])"
);
