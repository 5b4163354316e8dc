-- Run the timers that are due: return or dead-letter messages whose
-- visibility timeout passed, make delayed messages visible, drop expired
-- messages, deduplication entries and receive request attempts. Atomic because taking the due timers
-- from the front of T and acting on them happen in one script run, so each
-- timer runs once. Costs O(log n + due), however many timers wait.
-- Returns { keys and counts of queues with newly receivable messages,
-- dead-letter moves, due time in ms of the next timer or false }.

local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])

local SWEEP_LIMIT = 1000

local due = call("T", "range_by_score", -math.huge, now, limit)
if #due > 0 then
    call("T", "pop_min", #due)
end

local queues = {}
local woken = {}
local moves = {}

-- Return the queue with number ID `id`, or nil once it is deleted.
local function queue_by_id(id)
    local q = queues[id]
    if q == nil then
        q = false
        local prefix = "q" .. id
        if db.exists(prefix) then
            q = open_queue(call(prefix, "get", "n")) or false
        end
        queues[id] = q
    end
    return q or nil
end

local function wake(q, count)
    woken[q.key] = (woken[q.key] or 0) + count
end

local function run_message_timer(q, seq)
    local record = call(q.prefix .. "h", "get", seq)
    if record == nil then
        return
    end
    local m = parse_record(record)
    if m.state == "f" then
        if expire_visibility(q, m, now, moves) then
            wake(q, 1)
        end
    elseif m.state == "d" then
        call(q.prefix .. "h", "delete", seq)
        add_counter(q, "D", -1)
        if m.sent + q.retention_ms > now then
            m.state = "n"
            push_fresh(q, m)
            wake(q, 1)
        end
    end
end

-- Drop expired messages from the front of a standard queue and schedule
-- the next sweep for when the new front message expires.
local function sweep(q)
    local visible = q.prefix .. "v"
    local hidden = q.prefix .. "h"
    for _ = 1, SWEEP_LIMIT do
        local front = call(visible, "peek_left")
        if front == nil then
            return
        end
        local record = front
        if type(front) == "number" then
            record = call(hidden, "get", front)
        end
        if record == nil then
            call(visible, "pop_left")
            add_counter(q, "X", -1)
        else
            local sent = tonumber(string.match(record, "^%a,%d+,%d+,%d+,%d+,(%d+),"))
            local expires = sent + q.retention_ms
            if expires > now then
                call("T", "add", "r" .. q.id, expires)
                return
            end
            call(visible, "pop_left")
            if type(front) == "number" then
                call(hidden, "delete", front)
                add_counter(q, "R", -1)
            end
        end
    end
    call("T", "add", "r" .. q.id, now)
end

-- Drop expired messages from the front of every group of a FIFO queue.
-- Emptied groups stay, because the ready queue may still name them, and
-- the next receive or settle drops them. A sweep schedules the next one at
-- least a second later, because each sweep visits every group.
local function sweep_groups(q)
    local hidden = q.prefix .. "h"
    local next_due = nil
    for _, group in ipairs(call(q.prefix .. "G", "range_by_score", 0, 0)) do
        local name = group_queue(q, group)
        while true do
            local front = call(name, "peek_left")
            if front == nil then
                break
            end
            local record = front
            if type(front) == "number" then
                record = call(hidden, "get", front)
            end
            if record ~= nil then
                local sent = tonumber(string.match(record, "^%a,%d+,%d+,%d+,%d+,(%d+),"))
                local expires = sent + q.retention_ms
                if expires > now then
                    if next_due == nil or expires < next_due then
                        next_due = expires
                    end
                    break
                end
            end
            call(name, "pop_left")
            add_counter(q, "V", -1)
            if record == nil then
                add_counter(q, "X", -1)
            elseif type(front) == "number" then
                call(hidden, "delete", front)
                add_counter(q, "R", -1)
            end
        end
    end
    if next_due ~= nil then
        call("T", "add", "r" .. q.id, math.max(next_due, now + 1000))
    end
end

-- Drop the deduplication entries of a FIFO queue whose 5 minutes passed,
-- from the front of qIDe. A key sent again after its entry expired has a
-- newer entry, which an older item in qIDe leaves alone.
local function sweep_deduplication(q)
    local order = q.prefix .. "e"
    local entries = q.prefix .. "d"
    for _ = 1, SWEEP_LIMIT do
        local front = call(order, "peek_left")
        if front == nil then
            return
        end
        local expires, entry_key = string.match(front, "^(%d+)\t(.*)$")
        expires = tonumber(expires)
        if expires > now then
            call("T", "add", "d" .. q.id, expires)
            return
        end
        call(order, "pop_left")
        local entry = call(entries, "get", entry_key)
        if entry ~= nil and tonumber(string.match(entry, "^%d+")) <= now then
            call(entries, "delete", entry_key)
        end
    end
    call("T", "add", "d" .. q.id, now)
end

local function expire_entry(q, structure, entry_key)
    if db.exists(structure) then
        local entry = call(structure, "get", entry_key)
        if entry ~= nil and tonumber(string.match(entry, "^%d+")) <= now then
            call(structure, "delete", entry_key)
        end
    end
end

for _, member in ipairs(due) do
    local kind = string.sub(member, 1, 1)
    if kind == "r" then
        local q = queue_by_id(tonumber(string.sub(member, 2)))
        if q ~= nil and q.fifo then
            sweep_groups(q)
        elseif q ~= nil then
            sweep(q)
        end
    elseif kind == "d" then
        local q = queue_by_id(tonumber(string.sub(member, 2)))
        if q ~= nil then
            sweep_deduplication(q)
        end
    elseif kind == "a" then
        local id, entry_key = string.match(member, "^.(%d+):(.*)$")
        local q = queue_by_id(tonumber(id))
        if q ~= nil then
            expire_entry(q, q.prefix .. kind, entry_key)
        end
    else
        local id, seq = string.match(member, "^(%d+):(%d+)$")
        local q = queue_by_id(tonumber(id))
        if q ~= nil then
            run_message_timer(q, tonumber(seq))
        end
    end
end

local woken_list = {}
for queue_key, count in pairs(woken) do
    woken_list[#woken_list + 1] = { queue_key, count }
end
table.sort(woken_list, function(a, b) return a[1] < b[1] end)
local next_due = false
local first = call("T", "range_by_score", -math.huge, math.huge, 1)
if #first > 0 then
    next_due = call("T", "score", first[1])
end
return { woken_list, moves, next_due, #due }
