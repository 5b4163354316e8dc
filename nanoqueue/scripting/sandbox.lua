-- Sandbox set-up, run once per Lua runtime with the Python bridge functions.
-- It returns the functions the runtime calls. Scripts never see this chunk's
-- locals, because `debug` and `load` are gone once it has run.
--
-- Memory: lupa converts values between Lua and Python without a protected
-- call, and an allocation that fails there jumps out of lupa's own code and
-- leaves the runtime locked for good. So no table, function or coroutine
-- crosses into Python while the memory limit is on: `disarm` lifts the limit
-- first, and the Python side checks that what it returns fits under the
-- limit before it turns the limit back on.

local bridge, clock, disarm, hook_count = ...

local raw_pcall, raw_xpcall, raw_error = pcall, xpcall, error
local raw_setmetatable, raw_getmetatable = setmetatable, getmetatable
local raw_type, raw_select, raw_tostring, raw_rawget = type, select, tostring, rawget
local table_pack, table_unpack, table_concat = table.pack, table.unpack, table.concat
local co_create, co_resume = coroutine.create, coroutine.resume
local sethook, setupvalue, getinfo = debug.sethook, debug.setupvalue, debug.getinfo
local debug_getmetatable = debug.getmetatable
local load_text = load

-- Why a script stopped: nil while it may run, else "timeout", "memory" or
-- "internal". Once set, every pcall, xpcall and coroutine.resume passes the
-- error on, so no script can swallow a limit.
local killed = nil
local killed_line = nil
local deadline = math.huge
local KILLED = "script stopped by the sandbox"
local OUT_OF_MEMORY = "not enough memory"

-- Reasons the Python side gives, as numbers so that returning them to Lua
-- allocates nothing.
local FATAL = { [1] = "memory", [2] = "internal" }

-- Lua types that lupa converts without allocating in Lua.
local SCALAR = { ["nil"] = true, boolean = true, number = true, string = true }

local function script_line(level)
    while true do
        local info = getinfo(level, "Sl")
        if info == nil then
            return nil
        end
        if info.short_src == "script" and info.currentline > 0 then
            return info.currentline
        end
        level = level + 1
    end
end

local function hook()
    if killed then
        raw_error(KILLED, 0)
    end
    if clock() > deadline then
        killed = "timeout"
        killed_line = script_line(2)
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

-- A new coroutine does not inherit the hook, so every coroutine a script
-- creates gets it here.
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
-- Lua marks an object for finalization only if its metatable has __gc when
-- setmetatable is called, so checking here is enough. The argument checks
-- come first so that an error names setmetatable and the script's line,
-- not this wrapper.
local function safe_setmetatable(t, mt)
    if raw_type(t) ~= "table" then
        raw_error("bad argument #1 to 'setmetatable' (table expected, got "
            .. raw_type(t) .. ")", 2)
    end
    if mt ~= nil and raw_type(mt) ~= "table" then
        raw_error("bad argument #2 to 'setmetatable' (nil or table expected, got "
            .. raw_type(mt) .. ")", 2)
    end
    local current = debug_getmetatable(t)
    if current ~= nil and raw_rawget(current, "__metatable") ~= nil then
        raw_error("cannot change a protected metatable", 2)
    end
    if mt ~= nil and raw_rawget(mt, "__gc") ~= nil then
        raw_error("__gc metamethods are not allowed in scripts", 2)
    end
    return raw_setmetatable(t, mt)
end

local function readonly(t, name)
    local function iterate(_, key)
        return next(t, key)
    end
    return raw_setmetatable({}, {
        __index = t,
        __newindex = function()
            raw_error("the " .. name .. " library is read-only", 2)
        end,
        __pairs = function(proxy)
            return iterate, proxy, nil
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
--
-- NOTE: string.find, match, gmatch and gsub match patterns inside one C
-- call, where the count hook never runs. A pathological pattern on a long
-- subject, such as string.find(string.rep("a", 1e5), ".-b"), takes time
-- quadratic or worse in the subject length and can run past the time limit
-- while the server serves no other request. Lifting this needs a matcher
-- written in Lua or a cost check that does not reject ordinary patterns.
string.dump = nil
local string_meta = getmetatable("")
string_meta.__metatable = false

-- Raise `message` from the line of the nearest script frame. A script that
-- tail-calls the API (`return db.call(...)`) has no frame left, so its
-- message has no line.
local function fail(message, fatal)
    if fatal ~= nil then
        killed = FATAL[fatal] or "internal"
        raw_error(KILLED, 0)
    end
    local line = script_line(3)
    if line == nil then
        raw_error(message, 0)
    end
    raw_error("script:" .. line .. ": " .. message, 0)
end

local bridge_call = bridge.call

-- The hot path of every queue operation: scalars go straight to Python,
-- anything else first lifts the memory limit (see the top of this file).
local function call(...)
    local count = raw_select("#", ...)
    if count > 5 then
        fail("db.call takes a structure name, an operation and at most 3 arguments, got "
            .. count .. " values")
    end
    local name, operation, a, b, c = ...
    if not (SCALAR[raw_type(a)] and SCALAR[raw_type(b)] and SCALAR[raw_type(c)]
            and SCALAR[raw_type(name)] and SCALAR[raw_type(operation)]) then
        disarm()
    end
    local ok, result, fatal = bridge_call(...)
    if ok then
        return result
    end
    fail(result, fatal)
end

-- Wrap a bridge function of fixed arity, so that extra values never cross.
local function unary(function_name)
    local f = bridge[function_name]
    return function(value)
        if not SCALAR[raw_type(value)] then
            disarm()
        end
        local ok, result, fatal = f(value)
        if ok then
            return result
        end
        fail(result, fatal)
    end
end

local bridge_create = bridge.create
local function create(kind, name)
    if not (SCALAR[raw_type(kind)] and SCALAR[raw_type(name)]) then
        disarm()
    end
    local ok, result, fatal = bridge_create(kind, name)
    if ok then
        return result
    end
    fail(result, fatal)
end

local bridge_decode = bridge.json_decode
local function json_decode(text)
    if raw_type(text) ~= "string" then
        fail("json.decode takes a string, got " .. raw_type(text))
    end
    local ok, result, fatal = bridge_decode(text)
    if ok then
        return result
    end
    fail(result, fatal)
end

-- The text is built here, with tostring and its metamethods running under
-- the hook, so that Python receives one string.
local bridge_log = bridge.log
local function log(...)
    local parts = table_pack(...)
    for i = 1, parts.n do
        parts[i] = raw_tostring(parts[i])
    end
    local ok, result, fatal = bridge_log(table_concat(parts, " ", 1, parts.n))
    if not ok then
        fail(result, fatal)
    end
end

local db = readonly({
    create = create,
    drop = unary("drop"),
    exists = unary("exists"),
    kind = unary("kind"),
    call = call,
}, "db")

local json = readonly({
    encode = unary("json_encode"),
    decode = json_decode,
}, "json")

local base = {
    assert = assert,
    error = raw_error,
    ipairs = ipairs,
    next = next,
    pairs = pairs,
    pcall = safe_pcall,
    xpcall = safe_xpcall,
    rawequal = rawequal,
    rawget = raw_rawget,
    rawlen = rawlen,
    select = raw_select,
    setmetatable = safe_setmetatable,
    getmetatable = raw_getmetatable,
    tonumber = tonumber,
    tostring = raw_tostring,
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

-- Turn an error object into a message while the hook still runs, so that a
-- __tostring metamethod cannot loop past the time limit.
local function describe(err)
    if killed or err == OUT_OF_MEMORY then
        return err
    end
    local kind = raw_type(err)
    if kind == "string" or kind == "number" or kind == "boolean" or kind == "nil" then
        return raw_tostring(err)
    end
    local meta = raw_getmetatable(err)
    if kind == "table" and raw_type(meta) == "table" and meta.__tostring ~= nil then
        local ok, text = raw_pcall(raw_tostring, err)
        if ok and raw_type(text) == "string" then
            return text
        end
    end
    return "error object is a " .. kind .. ", not a string"
end

local function start(chunk, keys, argv)
    setupvalue(chunk, 1, raw_setmetatable({ KEYS = keys, ARGV = argv }, env_meta))
    return chunk()
end

-- Run a compiled chunk with KEYS and ARGV in a fresh environment, so that no
-- global a script sets is seen by a later script. Nothing after the
-- protected call allocates, so the limits cannot fire outside it.
local function run(chunk, keys, argv, time_limit)
    killed = nil
    killed_line = nil
    deadline = clock() + time_limit
    sethook(hook, "", hook_count)
    local ok, result = raw_xpcall(start, describe, chunk, keys, argv)
    sethook()
    deadline = math.huge
    -- Drop the environment, so that a script's globals are garbage now and
    -- not when its chunk runs again.
    setupvalue(chunk, 1, nil)
    disarm()
    if killed == nil and not ok and result == OUT_OF_MEMORY then
        killed = "memory"
    end
    return killed, ok, result, killed_line
end

return compile, run
