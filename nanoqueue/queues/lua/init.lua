-- Create the structures every queue shares: the name index Q, the sorted
-- name list N and the timer set T. Atomic because it is one script run, and
-- idempotent because db.create leaves an existing structure alone.

db.create("keyvalue", "Q")
db.create("sortedset", "N")
db.create("sortedset", "T")
return true
