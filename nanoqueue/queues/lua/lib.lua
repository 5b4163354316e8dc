-- Helpers shared by the queue scripts. The service prepends this text to
-- every script before it registers it, so each script stays one chunk that
-- runs as one transaction.
--
-- Layout, per queue with number ID (structure names are short because every
-- structure name is also written to the append-only log). The engine stores
-- each name with the reserved prefix "~", which MemDB API scripts cannot use:
--   Q          KeyValue  "region/name" -> "ID,CONFIGURATION" (one read opens
--              a queue), "#" -> last queue ID, "!" -> receipt-handle
--              secret (hex)
--   N          SortedSet "region/name", all with score 0, for listing
--   T          SortedSet timers of all queues, scored by due time in ms:
--              "ID:SEQ" visibility or delay of a message, "rID" retention
--              sweep, "dID" deduplication sweep, "aID:ATTEMPT" expiry of a
--              receive request attempt
--   qID        KeyValue  i = info JSON, n = name
--              key, s = last sequence number, p = last purge in ms, and the
--              counters D (delayed), R (returned visible), X (deleted while
--              visible), V (FIFO: items in all group queues)
--   qIDv       Queue     visible messages of a standard queue: a fresh
--              message's record itself, or the SEQ of a record in qIDh
--   qIDh       KeyValue  SEQ -> record of a delayed, in-flight or returned
--              message
--   qIDr, qIDb, qIDG, qIDgGROUP   FIFO: ready groups (Queue), in-flight
--              count per group (KeyValue), group names (SortedSet) and one
--              Queue of visible messages per group
--   qIDd, qIDe FIFO: deduplication entries (KEY -> "EXPIRES,SEQ,ID") and
--              their "EXPIRES\tKEY" in send order, which is expiry order
--   qIDa       FIFO: receive request attempts
--
-- A record is a header line and the payload the service built:
--   STATE,SEQ,RECEIVES,FIRST_MS,LAST_MS,SENT_MS,SOURCE,GROUP\n PAYLOAD
-- STATE is n (fresh, inline in a visible queue), d (delayed), f (in flight)
-- or v (visible again after a receive). SOURCE is the "region/name" key of
-- the queue a dead-lettered message came from. Scripts never parse the
-- payload beyond its first line, the message ID.

local call = db.call
local HEADER = "^(%a),(%d+),(%d+),(%d+),(%d+),(%d+),([^,]*),([^\n]*)\n()"
local CONFIG = "^(%d+),(%d+),(%d+),(%d+),(%d+),([^,]*),(%d),(%a)$"

local function parse_record(record)
    local state, seq, receives, first, last, sent, source, group, start =
        string.match(record, HEADER)
    if state == nil then
        error("corrupt message record")
    end
    return {
        state = state,
        seq = tonumber(seq),
        receives = tonumber(receives),
        first = tonumber(first),
        last = tonumber(last),
        sent = tonumber(sent),
        source = source,
        group = group,
        payload = string.sub(record, start),
    }
end

local function build_record(m)
    return string.format(
        "%s,%d,%d,%d,%d,%d,%s,%s\n",
        m.state, m.seq, m.receives, m.first, m.last, m.sent, m.source, m.group
    ) .. m.payload
end

-- The record of a message just sent: build_record of state n, no receives
-- and no source, with two number conversions instead of five.
local function fresh_record(seq, sent, group, payload)
    return "n," .. seq .. ",0,0,0," .. sent .. ",," .. group .. "\n" .. payload
end

local function message_id(m)
    return string.match(m.payload, "^[^\n]*")
end

-- Return the queue's ID, structure prefix and configuration, or nil when
-- there is no queue under `key`.
local function open_queue(key)
    local line = call("Q", "get", key)
    if line == nil then
        return nil
    end
    local id, vt, delay, retention, max_receives, dlq, fifo, scope =
        string.match(line, CONFIG)
    local prefix = "q" .. id
    return {
        id = tonumber(id),
        key = key,
        prefix = prefix,
        visibility_ms = tonumber(vt) * 1000,
        delay_ms = tonumber(delay) * 1000,
        retention_ms = tonumber(retention) * 1000,
        max_receives = tonumber(max_receives),
        dlq = dlq,
        fifo = fifo == "1",
        scope = scope,
    }
end

local function add_counter(q, name, by)
    if by ~= 0 then
        call(q.prefix, "incr", name, by)
    end
end

local function counter(q, name)
    return call(q.prefix, "get", name) or 0
end

local function timer_name(q, seq)
    return q.id .. ":" .. seq
end

-- Make sure a retention sweep of a standard queue runs by `due_ms`.
local function schedule_retention(q, due_ms)
    local name = "r" .. q.id
    local current = call("T", "score", name)
    if current == nil or current > due_ms then
        call("T", "add", name, due_ms)
    end
end

-- FIFO group queues: a group is in the ready queue while it has visible
-- messages and none in flight.
-- NOTE: each group with messages has a Queue structure of its own, about
-- 1.3 KB. A FIFO backlog of 100,000 100-byte messages measured about 450 B
-- per message beyond the body in 10 groups and 1.7 KB with one group per
-- message (RSS), both including the 5-minute deduplication entries.

local function group_queue(q, group)
    return q.prefix .. "g" .. group
end

local function ensure_group(q, group)
    local name = group_queue(q, group)
    if db.create("queue", name) then
        call(q.prefix .. "G", "add", group, 0)
    end
    return name
end

local function in_flight_of_group(q, group)
    return call(q.prefix .. "b", "get", group) or 0
end

-- Drop a group's queue when it is empty and nothing of it is in flight, or
-- mark it ready when it has messages and nothing in flight.
local function settle_group(q, group)
    if in_flight_of_group(q, group) > 0 then
        return false
    end
    local name = group_queue(q, group)
    if not db.exists(name) then
        return false
    end
    if call(name, "len") == 0 then
        db.drop(name)
        call(q.prefix .. "G", "remove", group)
        return false
    end
    call(q.prefix .. "r", "push_right", group)
    return true
end

local function item_seq(item)
    if type(item) == "number" then
        return item
    end
    return tonumber(string.match(item, "^%a,(%d+),"))
end

-- Put a returned FIFO message back in its group in sequence order: the
-- messages of a group that were in flight together may return one by one.
local function push_group_in_order(q, group, seq)
    local name = ensure_group(q, group)
    local earlier = {}
    while true do
        local front = call(name, "peek_left")
        if front == nil or item_seq(front) > seq then
            break
        end
        earlier[#earlier + 1] = call(name, "pop_left")
    end
    call(name, "push_left", seq)
    for i = #earlier, 1, -1 do
        call(name, "push_left", earlier[i])
    end
    add_counter(q, "V", 1)
end

-- Append a fresh record to the visible messages of a queue.
local function push_fresh(q, m)
    local record = build_record(m)
    if q.fifo then
        local name = ensure_group(q, m.group)
        call(name, "push_right", record)
        add_counter(q, "V", 1)
        if call(name, "len") == 1 then
            settle_group(q, m.group)
            schedule_retention(q, m.sent + q.retention_ms)
        end
        return
    end
    if call(q.prefix .. "v", "push_right", record) == 1 then
        schedule_retention(q, m.sent + q.retention_ms)
    end
end

-- Move a message to queue `target_key` as a fresh message that keeps its ID,
-- body, attributes and sent time. Returns false when that queue is missing.
local function move_message(m, target_key, source_key)
    local target = open_queue(target_key)
    if target == nil then
        return false
    end
    local seq = call(target.prefix, "incr", "s", 1)
    push_fresh(target, {
        state = "n",
        seq = seq,
        receives = 0,
        first = 0,
        last = 0,
        sent = m.sent,
        source = source_key,
        group = m.group,
        payload = m.payload,
    })
    return true
end

-- Make an in-flight message visible again, at the front of its queue.
local function return_message(q, m)
    m.state = "v"
    call(q.prefix .. "h", "set", m.seq, build_record(m))
    add_counter(q, "R", 1)
    if q.fifo then
        local blocked = in_flight_of_group(q, m.group) - 1
        if blocked > 0 then
            call(q.prefix .. "b", "set", m.group, blocked)
        else
            call(q.prefix .. "b", "delete", m.group)
        end
        push_group_in_order(q, m.group, m.seq)
        schedule_retention(q, m.sent + q.retention_ms)
        if blocked == 0 then
            settle_group(q, m.group)
        end
        return
    end
    call(q.prefix .. "v", "push_left", m.seq)
    schedule_retention(q, m.sent + q.retention_ms)
end

-- Forget a message kept in qIDh whose group may wait for it.
local function release_message(q, m)
    call(q.prefix .. "h", "delete", m.seq)
    if m.state == "d" then
        add_counter(q, "D", -1)
    elseif m.state == "v" then
        add_counter(q, "R", -1)
        add_counter(q, "X", 1)
    end
    if q.fifo and m.state == "f" then
        local blocked = in_flight_of_group(q, m.group) - 1
        if blocked > 0 then
            call(q.prefix .. "b", "set", m.group, blocked)
        else
            call(q.prefix .. "b", "delete", m.group)
            return settle_group(q, m.group)
        end
    end
    return false
end

-- Dead-letter or return an in-flight message whose visibility timeout
-- passed. Appends to `moves` the dead-letter moves, and returns true when
-- a message became receivable.
local function expire_visibility(q, m, now, moves)
    if m.sent + q.retention_ms <= now then
        return release_message(q, m)
    end
    -- A message whose dead-letter queue is gone stays in its queue.
    local dead = q.dlq ~= "" and m.receives >= q.max_receives
    if dead and call("Q", "get", q.dlq) ~= nil then
        local woken = release_message(q, m)
        move_message(m, q.dlq, q.key)
        moves[#moves + 1] = { q.key, q.dlq, message_id(m) }
        return woken
    end
    return_message(q, m)
    return true
end

-- Drop every message structure of a queue. Timers of its messages stay in
-- T and are skipped when due, because sequence numbers are never reused.
local function drop_messages(q)
    if q.fifo then
        for _, group in ipairs(call(q.prefix .. "G", "range_by_score", 0, 0)) do
            db.drop(group_queue(q, group))
        end
        db.drop(q.prefix .. "G")
        db.drop(q.prefix .. "r")
        db.drop(q.prefix .. "b")
    else
        db.drop(q.prefix .. "v")
    end
    db.drop(q.prefix .. "h")
    call("T", "remove", "r" .. q.id)
end
