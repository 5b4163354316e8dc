-- Send messages to a queue. Atomic because sequence numbers, FIFO
-- deduplication and the enqueueing of every message of the batch happen in
-- one script run, so a batch is all there or, on error, not at all.
-- ARGV after the first three contains four values per message: payload, delay
-- in seconds ("" for the queue's), group ID and deduplication key ("" for
-- none). Returns false when the queue does not exist, else per message its
-- SEQ or, for a duplicate, the text "EXPIRES,SEQ,MESSAGE_ID" of the message
-- it duplicates. A flat list converts to Python faster than one table per
-- message.

local key = ARGV[1]
local now = tonumber(ARGV[2])
local count = tonumber(ARGV[3])

local DEDUPLICATION_MS = 300000

local q = open_queue(key)
if q == nil then
    return false
end
local first_seq = call(q.prefix, "incr", "s", count) - count
local results = {}
local fresh = {}
local delayed = 0
for i = 1, count do
    local base = 3 + (i - 1) * 4
    local payload = ARGV[base + 1]
    local delay = ARGV[base + 2]
    local group = ARGV[base + 3]
    local deduplication = ARGV[base + 4]
    local seq = first_seq + i
    local duplicate = nil
    if deduplication ~= "" then
        duplicate = call(q.prefix .. "d", "get", deduplication)
        if duplicate ~= nil and tonumber(string.match(duplicate, "^%d+")) <= now then
            duplicate = nil
        end
    end
    if duplicate ~= nil then
        results[i] = duplicate
    else
        if deduplication ~= "" then
            local expires = now + DEDUPLICATION_MS
            local entry = expires .. "," .. seq .. "," .. string.match(payload, "^[^\n]*")
            call(q.prefix .. "d", "set", deduplication, entry)
            local order = call(q.prefix .. "e", "push_right", expires .. "\t" .. deduplication)
            if order == 1 then
                call("T", "add", "d" .. q.id, expires)
            end
        end
        local delay_ms = q.delay_ms
        if delay ~= "" then
            delay_ms = tonumber(delay) * 1000
        end
        if delay_ms == 0 and not q.fifo then
            fresh[#fresh + 1] = fresh_record(seq, now, group, payload)
        else
            local m = {
                state = "n",
                seq = seq,
                receives = 0,
                first = 0,
                last = 0,
                sent = now,
                source = "",
                group = group,
                payload = payload,
            }
            if delay_ms > 0 then
                m.state = "d"
                call(q.prefix .. "h", "set", seq, build_record(m))
                call("T", "add", timer_name(q, seq), now + delay_ms)
                delayed = delayed + 1
            else
                push_fresh(q, m)
            end
        end
        results[i] = seq
    end
end
-- An empty visible queue has no sweep due, so the new front sets it.
if #fresh > 0 then
    if call(q.prefix .. "v", "push_right_many", fresh) == #fresh then
        call("T", "add", "r" .. q.id, now + q.retention_ms)
    end
end
add_counter(q, "D", delayed)
return results
