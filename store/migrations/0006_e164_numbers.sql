-- Numbers are stored in one form (store/numbers.py): `+` and the country code where a number is
-- international. Routes written before that get it: `0015550100100` and `15550100100` become
-- `+15550100100`. A route whose new form another route already holds is left as it was (the
-- one already in the new form is the one every lookup finds).

UPDATE inbound_routes AS r SET did = '+' || substr(r.did, 3), updated_at = now()
WHERE r.did ~ '^00[1-9][0-9]{7,14}$'
  AND NOT EXISTS (SELECT 1 FROM inbound_routes o WHERE o.did = '+' || substr(r.did, 3));

UPDATE inbound_routes AS r SET did = '+' || r.did, updated_at = now()
WHERE r.did ~ '^[1-9][0-9]{7,14}$'
  AND NOT EXISTS (SELECT 1 FROM inbound_routes o WHERE o.did = '+' || r.did);
