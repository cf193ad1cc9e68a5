#!/usr/bin/env bash
# GET /api/v1/roleAssignments?principal=NAME checks the caller's rights before
# it looks the name up: a caller without rights gets the same 403 for a name
# that exists and one that does not, and only a reader of the server hears
# that a name is unknown.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
owner_api POST /api/v1/users '{"name":"alice","password":"alice-password-1234"}'
expect_status 201 "a user alice"

# ---- role assignments: rights first, so a caller who may read nothing learns no names
owner_api POST /api/v1/users '{"name":"nobody-special","password":"nobody-password-1234"}'
req GET "/api/v1/roleAssignments?principal=alice" -u "nobody-special:nobody-password-1234"
R1="$STATUS $(body_json)"
req GET "/api/v1/roleAssignments?principal=not-a-user-here" -u "nobody-special:nobody-password-1234"
R2="$STATUS $(body_json)"
check "a caller without rights is refused on an existing principal (${R1%% *})" test "${R1%% *}" = 403
expect_eq "and the same on a missing one" "$R1" "$R2"
owner_api POST /api/v1/roleAssignments '{"principal":"nobody-special","role":"Reader","scope":"/registries/default"}'
req GET "/api/v1/roleAssignments?principal=alice" -u "nobody-special:nobody-password-1234"
R1="$STATUS $(jq -c .value "$BODY")"
req GET "/api/v1/roleAssignments?principal=not-a-user-here" -u "nobody-special:nobody-password-1234"
expect_eq "a reader of one registry sees an unknown name like one with no assignments there" "$R1" \
    "$STATUS $(jq -c .value "$BODY")"
owner_api GET "/api/v1/roleAssignments?principal=not-a-user-here"
expect_status 404 "a reader of the server is told the name is unknown"

finish
