-- Receive up to MAX messages and hide them for the visibility timeout.
-- Atomic because taking a message from the visible queue, counting the
-- receive and starting its visibility timer happen in one script run, so
-- two receives never get the same delivery. Returns false when the queue
-- does not exist, else { records, dead-letter moves, whether the queue has
-- the maximum of in-flight messages }.

local key = ARGV[1]
local now = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local visibility = ARGV[4]
local attempt = ARGV[5]

local ATTEMPT_MS = 300000
local MAX_IN_FLIGHT = tonumber(ARGV[6])

local q = open_queue(key)
if q == nil then
    return false
end
local hidden = q.prefix .. "h"
local visibility_ms = q.visibility_ms
if visibility ~= "" then
    visibility_ms = tonumber(visibility) * 1000
end
local delivered = {}
local moves = {}

-- A FIFO receive request attempt repeated within 5 minutes gets the same
-- deliveries while they are still in flight.
if attempt ~= "" then
    local previous = call(q.prefix .. "a", "get", attempt)
    if previous ~= nil and tonumber(string.match(previous, "^%d+")) > now then
        for seq, receives in string.gmatch(previous, "(%d+):(%d+)") do
            local record = call(hidden, "get", tonumber(seq))
            if record ~= nil then
                local m = parse_record(record)
                if m.state == "f" and m.receives == tonumber(receives) then
                    delivered[#delivered + 1] = record
                end
            end
        end
        if #delivered > 0 then
            return { delivered, moves, false }
        end
    end
end

-- Return the message an item of a visible queue stands for, or nil when it
-- was deleted, has expired or went to the dead-letter queue.
local function take(item)
    if type(item) ~= "number" then
        local m = parse_record(item)
        if m.sent + q.retention_ms <= now then
            return nil
        end
        return m
    end
    local record = call(hidden, "get", item)
    if record == nil then
        add_counter(q, "X", -1)
        return nil
    end
    local m = parse_record(record)
    add_counter(q, "R", -1)
    if m.sent + q.retention_ms <= now then
        call(hidden, "delete", item)
        return nil
    end
    if q.dlq ~= "" and m.receives >= q.max_receives and call("Q", "get", q.dlq) ~= nil then
        call(hidden, "delete", item)
        move_message(m, q.dlq, q.key)
        moves[#moves + 1] = { q.key, q.dlq, message_id(m) }
        return nil
    end
    return m
end

local function deliver(m)
    m.receives = m.receives + 1
    if m.first == 0 then
        m.first = now
    end
    m.last = now
    m.state = "f"
    local record = build_record(m)
    call(hidden, "set", m.seq, record)
    call("T", "add", timer_name(q, m.seq), now + visibility_ms)
    delivered[#delivered + 1] = record
end

-- qIDh contains in-flight messages and also delayed and returned ones, so
-- its length bounds the in-flight count from above at the cost of one read.
local hidden_count = call(hidden, "len")
if hidden_count + max > MAX_IN_FLIGHT then
    local in_flight = hidden_count - counter(q, "D") - counter(q, "R")
    if in_flight >= MAX_IN_FLIGHT then
        return { delivered, moves, true }
    end
    max = math.min(max, MAX_IN_FLIGHT - in_flight)
end

if q.fifo then
    local ready = q.prefix .. "r"
    while #delivered < max do
        local group = call(ready, "pop_left")
        if group == nil then
            break
        end
        local items = call(group_queue(q, group), "pop_left_many", max - #delivered)
        add_counter(q, "V", -#items)
        local taken = 0
        for _, item in ipairs(items) do
            local m = take(item)
            if m ~= nil then
                deliver(m)
                taken = taken + 1
            end
        end
        if taken > 0 then
            call(q.prefix .. "b", "set", group, taken)
        else
            settle_group(q, group)
        end
    end
else
    local visible = q.prefix .. "v"
    while #delivered < max do
        local items = call(visible, "pop_left_many", max - #delivered)
        if #items == 0 then
            break
        end
        for _, item in ipairs(items) do
            local m = take(item)
            if m ~= nil then
                deliver(m)
            end
        end
    end
end

if attempt ~= "" and #delivered > 0 then
    local pairs_text = {}
    for i, record in ipairs(delivered) do
        local seq, receives = string.match(record, "^%a,(%d+),(%d+),")
        pairs_text[i] = seq .. ":" .. receives
    end
    local expires = now + ATTEMPT_MS
    call(q.prefix .. "a", "set", attempt, expires .. "|" .. table.concat(pairs_text, ","))
    call("T", "add", "a" .. q.id .. ":" .. attempt, expires)
end
return { delivered, moves, false }
