-- A table whose every foreign key comes from a personal table on the
-- subject's path through it is erased with a plain DELETE once the
-- erasure has deleted all the subject's rows of those tables. Where a
-- referencing row stays (kept by a rule, or in a table off the path, or
-- under a key that clears the reference), the row it references is
-- anonymised as before, never deleted from under it.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
CREATE SCHEMA trip;
CREATE TABLE trip.people (id integer PRIMARY KEY, name text);
CREATE TABLE trip.trips (id integer PRIMARY KEY, person_id integer NOT NULL REFERENCES trip.people,
						 destination text);
CREATE TABLE trip.stops (id integer PRIMARY KEY, trip_id integer NOT NULL REFERENCES trip.trips ON DELETE CASCADE,
						 note text);
CREATE TABLE trip.receipts (id integer PRIMARY KEY, trip_id integer NOT NULL REFERENCES trip.trips,
							issued_on date NOT NULL, payer text);
CREATE INDEX ON trip.trips (person_id);
CREATE INDEX ON trip.stops (trip_id);
CREATE INDEX ON trip.receipts (trip_id);
SELECT (privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'referrers-1', 'effective_date', '2026-01-01',
	'controller', jsonb_build_object('name', 'Trips ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'service', 'legal_basis', 'contract', 'description', 'Running trips'),
		jsonb_build_object('name', 'bookkeeping', 'legal_basis', 'legal_obligation', 'description', 'Keeping receipts')),
	'categories', jsonb_build_array(jsonb_build_object('name', 'travel', 'description', 'Where a person travels')),
	'recipients', jsonb_build_array(
		jsonb_build_object('name', 'staff', 'kind', 'internal', 'purposes', jsonb_build_array('service'))),
	'subject_kinds', jsonb_build_array(jsonb_build_object('name', 'traveller', 'table', 'trip.people', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'trip.people', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'trip.trips', 'column', 'destination', 'category', 'travel'),
		jsonb_build_object('table', 'trip.stops', 'column', 'note', 'category', 'travel'),
		jsonb_build_object('table', 'trip.receipts', 'column', 'payer', 'category', 'contact.name')),
	'retention_rules', jsonb_build_array(
		jsonb_build_object('name', 'receipts', 'table', 'trip.receipts', 'anchor', 'issued_on',
						   'period', '5 years', 'minimum', '5 years', 'action', 'delete',
						   'legal_basis', 'legal_obligation'))
	)::text) ->> 'changed')::boolean AS applied;
INSERT INTO trip.people VALUES (1, 'Ada Traveller'), (2, 'Bo Traveller'), (3, 'Cy Traveller');
INSERT INTO trip.trips VALUES (10, 1, 'Oslo'), (11, 1, 'Bergen'), (20, 2, 'Aarhus'), (30, 3, 'Lund');
INSERT INTO trip.stops VALUES (100, 10, 'hotel A'), (101, 11, 'hotel B'), (200, 20, 'hotel C'), (300, 30, 'hotel D');
-- Bo's receipt is within its legal minimum; Ada's and Cy's are long past it.
INSERT INTO trip.receipts VALUES (1000, 10, '2001-01-01', 'Ada Traveller'), (2000, 20, current_date, 'Bo Traveller'),
	(3000, 30, '2001-01-01', 'Cy Traveller');

-- Ada: her stops and receipts went, so her trips and her person row go
-- with plain DELETEs; every row of hers is deleted.
SELECT r ->> 'rows_deleted' AS deleted, r ->> 'rows_anonymized' AS anonymized, r ->> 'rows_retained' AS retained
  FROM privacy.erase_subject('traveller', '1', 'consent withdrawn') r;
SELECT (SELECT count(*) FROM trip.trips WHERE person_id = 1) AS trips,
	   (SELECT count(*) FROM trip.stops WHERE trip_id IN (10, 11)) AS stops;

-- Bo: his receipt is retained, so his trip, which it references, is
-- anonymised and kept, and so is his person row, which the trip references.
SELECT t ->> 'table' AS "table", t ->> 'deleted' AS deleted, t ->> 'anonymized' AS anonymized,
	   t ->> 'retained' AS retained
  FROM privacy.erase_subject('traveller', '2', 'consent withdrawn') r, jsonb_array_elements(r -> 'tables') t
 ORDER BY 1;
SELECT id, person_id, destination FROM trip.trips WHERE id = 20;
SELECT id, name FROM trip.people WHERE id = 2;

-- A table off the path referencing a trip (a note with no subject of its
-- own, under ON DELETE SET NULL): Cy's trip is referenced by a row the
-- erasure does not reach, so it is anonymised, and the note keeps its
-- reference.
CREATE TABLE trip.notes (id integer PRIMARY KEY, trip_id integer REFERENCES trip.trips ON DELETE SET NULL, body text);
INSERT INTO trip.notes VALUES (1, 30, 'weather was fine');
SELECT t ->> 'table' AS "table", t ->> 'deleted' AS deleted, t ->> 'anonymized' AS anonymized
  FROM privacy.erase_subject('traveller', '3', 'consent withdrawn') r, jsonb_array_elements(r -> 'tables') t
 ORDER BY 1;
SELECT id, trip_id FROM trip.notes;
SELECT id, person_id, destination FROM trip.trips WHERE id = 30;

DROP SCHEMA trip CASCADE;
DROP EXTENSION opendims_privacy;
