-- Sandbox set-up, run once per Lua runtime with the Python bridge functions.
-- It returns the functions the runtime calls; scripts never see this chunk's
-- locals, because `debug` and `load` are gone once it has run.

local bridge, clock, hook_count = ...

local raw_pcall, raw_xpcall, raw_error = pcall, xpcall, error
local raw_setmetatable, raw_type, raw_select = setmetatable, type, select
local table_pack, table_unpack = table.pack, table.unpack
local co_create, co_resume, co_wrap_raw = coroutine.create, coroutine.resume, coroutine.wrap
local sethook, setupvalue, getinfo = debug.sethook, debug.setupvalue, debug.getinfo
local load_text = load

-- Why a script stopped: nil while it may run, "timeout" or "memory" once the
-- limit is hit. Once set, every pcall, xpcall and coroutine.resume passes the
-- error on, so no script can swallow a limit.
local killed = nil
local deadline = math.huge
local KILLED = "script stopped by the sandbox"
local OUT_OF_MEMORY = "not enough memory"

local function hook()
    if killed then
        raw_error(KILLED, 0)
    end
    if clock() > deadline then
        killed = "timeout"
        raw_error(KILLED, 0)
    end
end

local function check(ok, ...)
    if not ok then
        local err = ...
        if err == OUT_OF_MEMORY and not killed then
            killed = "memory"
        end
        if killed then
            raw_error(KILLED, 0)
        end
    end
    return ok, ...
end

local function safe_pcall(f, ...)
    return check(raw_pcall(f, ...))
end

local function safe_xpcall(f, handler, ...)
    local function guarded(err)
        if killed or err == OUT_OF_MEMORY then
            return err
        end
        return handler(err)
    end
    return check(raw_xpcall(f, guarded, ...))
end

local function hooked_create(f)
    local co = co_create(f)
    sethook(co, hook, "", hook_count)
    return co
end

local function safe_resume(co, ...)
    return check(co_resume(co, ...))
end

local function safe_wrap(f)
    local co = hooked_create(f)
    return function(...)
        local results = table_pack(safe_resume(co, ...))
        if not results[1] then
            raw_error(results[2], 0)
        end
        return table_unpack(results, 2, results.n)
    end
end

-- A finalizer would run later, outside any script and outside the hook.
local function safe_setmetatable(t, mt)
    if raw_type(mt) == "table" and rawget(mt, "__gc") ~= nil then
        raw_error("__gc metamethods are not allowed in scripts", 2)
    end
    return raw_setmetatable(t, mt)
end

local function readonly(t, name)
    return raw_setmetatable({}, {
        __index = t,
        __newindex = function()
            raw_error("the " .. name .. " library is read-only", 2)
        end,
        __metatable = false,
    })
end

local function copy(t, names)
    local result = {}
    for _, key in ipairs(names) do
        result[key] = t[key]
    end
    return result
end

-- Strings index the real string library through their metatable, so the
-- functions a script must not have are removed from it, and the metatable
-- itself is hidden.
string.dump = nil
local string_meta = getmetatable("")
string_meta.__metatable = false

-- Python functions return (true, result) or (false, message). The message
-- gets the line of the nearest script frame; a script that tail-calls db.*
-- (`return db.call(...)`) has no frame left, so its message has no line.
local function unwrap(ok, result)
    if ok then
        return result
    end
    local level = 3
    while true do
        local info = getinfo(level, "Sl")
        if info == nil then
            raw_error(result, 0)
        end
        if info.short_src == "script" and info.currentline > 0 then
            raw_error("script:" .. info.currentline .. ": " .. result, 0)
        end
        level = level + 1
    end
end

local function api(function_name)
    local f = bridge[function_name]
    return function(...)
        local result = unwrap(f(...))
        return result
    end
end

local db = readonly({
    create = api("create"),
    drop = api("drop"),
    exists = api("exists"),
    kind = api("kind"),
    call = api("call"),
}, "db")

local json = readonly({
    encode = api("json_encode"),
    decode = api("json_decode"),
}, "json")

local log = api("log")

local base = {
    assert = assert,
    error = raw_error,
    ipairs = ipairs,
    next = next,
    pairs = pairs,
    pcall = safe_pcall,
    xpcall = safe_xpcall,
    rawequal = rawequal,
    rawget = rawget,
    rawlen = rawlen,
    select = raw_select,
    setmetatable = safe_setmetatable,
    getmetatable = getmetatable,
    tonumber = tonumber,
    tostring = tostring,
    type = raw_type,
    unpack = table_unpack,
    _VERSION = _VERSION,
    math = readonly(math, "math"),
    string = readonly(string, "string"),
    table = readonly(table, "table"),
    utf8 = readonly(utf8, "utf8"),
    os = readonly(copy(os, { "clock", "date", "difftime", "time" }), "os"),
    coroutine = readonly({
        create = hooked_create,
        resume = safe_resume,
        wrap = safe_wrap,
        yield = coroutine.yield,
        status = coroutine.status,
        isyieldable = coroutine.isyieldable,
        running = coroutine.running,
        close = coroutine.close,
    }, "coroutine"),
    db = db,
    json = json,
    log = log,
}
local env_meta = { __index = base, __metatable = false }

-- Remove everything that reaches the host from the runtime's globals.
for _, name in ipairs({
    "python", "os", "io", "debug", "package", "require", "dofile",
    "loadfile", "load", "loadstring", "collectgarbage", "print", "rawset",
}) do
    _G[name] = nil
end

-- Text mode only: binary chunks can break the Lua VM's memory safety.
local function compile(source, name)
    local chunk, message = load_text(source, name, "t", {})
    return chunk, message
end

-- Run a compiled chunk with KEYS and ARGV in a fresh environment, so that no
-- global a script sets is seen by a later script.
local function run(chunk, keys, argv, time_limit)
    local env = raw_setmetatable({ KEYS = keys, ARGV = argv }, env_meta)
    setupvalue(chunk, 1, env)
    killed = nil
    deadline = clock() + time_limit
    sethook(hook, "", hook_count)
    local results = table_pack(raw_pcall(chunk))
    sethook()
    deadline = math.huge
    if killed == nil and not results[1] and results[2] == OUT_OF_MEMORY then
        killed = "memory"
    end
    return killed, table_unpack(results, 1, results.n)
end

return compile, run
