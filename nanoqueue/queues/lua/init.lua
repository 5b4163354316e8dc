-- Create the structures every queue shares: the name index Q, the sorted
-- name list N and the timer set T, and keep the receipt-handle secret under
-- "!" in Q. Atomic because it is one script run, and idempotent because
-- db.create leaves an existing structure alone and the secret is set once.

local candidate_secret = ARGV[1]

db.create("keyvalue", "Q")
db.create("sortedset", "N")
db.create("sortedset", "T")
local secret = db.call("Q", "get", "!")
if secret == nil then
    secret = candidate_secret
    db.call("Q", "set", "!", secret)
end
return secret
