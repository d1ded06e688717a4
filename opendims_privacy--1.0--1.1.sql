/* opendims_privacy--1.0--1.1.sql: personal-data column types, discovery of unclassified personal data, and the sensitive-data guard. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.1'" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last).
-- CREATE EXTENSION ... CASCADE puts the schema pgcrypto was created in
-- (public, usually) on the script's search_path; an operator, function or
-- type that another role planted there must never be bound into the
-- extension's objects nor run with the installing superuser's rights.
-- Everything the script creates is qualified with the schema privacy, and
-- CREATE and ALTER EXTENSION restore the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

-- BEGIN types

------------------------------------------------------------------------------
-- Personal-data column types: privacy.email, privacy.phone and
-- privacy.ip_address. Each validates and normalises its input, has text and
-- binary I/O, casts from and to text, btree and hash operator classes, and
-- the overloads privacy.mask() and privacy.pseudonymize(). A column of one
-- of these types is personal data of its category (privacy._type_categories)
-- without a label or a policy entry. I/O, operators, masking, truncation and
-- pseudonyms are for everyone; pseudonyms read the key as its owner.
-- The comparison functions raise no error that depends on their arguments,
-- so they are LEAKPROOF and row-level security does not stop index use.
-- The operators live in schema privacy with the types: queries find them
-- with privacy on the search path, or write OPERATOR(privacy.=).
------------------------------------------------------------------------------

-- privacy.email

CREATE TYPE privacy.email;

CREATE FUNCTION privacy.email_in(cstring)
RETURNS privacy.email
AS 'MODULE_PATHNAME', 'privacy_email_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.email_in(cstring) IS
'Input function of privacy.email: validates an e-mail address and lower-cases its domain';

CREATE FUNCTION privacy.email_out(privacy.email)
RETURNS cstring
AS 'MODULE_PATHNAME', 'privacy_email_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.email_out(privacy.email) IS
'Output function of privacy.email';

CREATE FUNCTION privacy.email_recv(internal)
RETURNS privacy.email
AS 'MODULE_PATHNAME', 'privacy_email_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.email_recv(internal) IS
'Binary input function of privacy.email: the address as ASCII text, validated like text input';

CREATE FUNCTION privacy.email_send(privacy.email)
RETURNS bytea
AS 'MODULE_PATHNAME', 'privacy_email_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.email_send(privacy.email) IS
'Binary output function of privacy.email: the address as ASCII text';

CREATE TYPE privacy.email (
	INPUT = privacy.email_in,
	OUTPUT = privacy.email_out,
	RECEIVE = privacy.email_recv,
	SEND = privacy.email_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);
COMMENT ON TYPE privacy.email IS
'An e-mail address (RFC 5321/5322 dot-atom local part, LDH domain), stored as written with the domain in lower case, compared without regard to case; personal data of category contact.email';

-- privacy.phone

CREATE TYPE privacy.phone;

CREATE FUNCTION privacy.phone_in(cstring)
RETURNS privacy.phone
AS 'MODULE_PATHNAME', 'privacy_phone_in'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.phone_in(cstring) IS
'Input function of privacy.phone: reads international and national formats into E.164 (stable: a national number gets privacy.default_country_code)';

CREATE FUNCTION privacy.phone_out(privacy.phone)
RETURNS cstring
AS 'MODULE_PATHNAME', 'privacy_phone_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.phone_out(privacy.phone) IS
'Output function of privacy.phone: E.164, as in +4512345678';

CREATE FUNCTION privacy.phone_recv(internal)
RETURNS privacy.phone
AS 'MODULE_PATHNAME', 'privacy_phone_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.phone_recv(internal) IS
'Binary input function of privacy.phone: the E.164 number as an int8 (4512345678 for +4512345678), validated';

CREATE FUNCTION privacy.phone_send(privacy.phone)
RETURNS bytea
AS 'MODULE_PATHNAME', 'privacy_phone_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.phone_send(privacy.phone) IS
'Binary output function of privacy.phone: the E.164 number as an int8 (4512345678 for +4512345678)';

CREATE TYPE privacy.phone (
	INPUT = privacy.phone_in,
	OUTPUT = privacy.phone_out,
	RECEIVE = privacy.phone_recv,
	SEND = privacy.phone_send,
	LIKE = pg_catalog.int8
);
COMMENT ON TYPE privacy.phone IS
'A telephone number in E.164 form (+4512345678) with an assigned country calling code; personal data of category contact.phone';

-- privacy.ip_address

CREATE TYPE privacy.ip_address;

CREATE FUNCTION privacy.ip_address_in(cstring)
RETURNS privacy.ip_address
AS 'MODULE_PATHNAME', 'privacy_ip_address_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.ip_address_in(cstring) IS
'Input function of privacy.ip_address: one IPv4 or IPv6 host address';

CREATE FUNCTION privacy.ip_address_out(privacy.ip_address)
RETURNS cstring
AS 'MODULE_PATHNAME', 'privacy_ip_address_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.ip_address_out(privacy.ip_address) IS
'Output function of privacy.ip_address: the canonical form, as host() prints an inet';

CREATE FUNCTION privacy.ip_address_recv(internal)
RETURNS privacy.ip_address
AS 'MODULE_PATHNAME', 'privacy_ip_address_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.ip_address_recv(internal) IS
'Binary input function of privacy.ip_address: the family (4 or 6) in one byte, then the 4 or 16 address bytes';

CREATE FUNCTION privacy.ip_address_send(privacy.ip_address)
RETURNS bytea
AS 'MODULE_PATHNAME', 'privacy_ip_address_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.ip_address_send(privacy.ip_address) IS
'Binary output function of privacy.ip_address: the family (4 or 6) in one byte, then the 4 or 16 address bytes';

CREATE TYPE privacy.ip_address (
	INPUT = privacy.ip_address_in,
	OUTPUT = privacy.ip_address_out,
	RECEIVE = privacy.ip_address_recv,
	SEND = privacy.ip_address_send,
	INTERNALLENGTH = 17,
	ALIGNMENT = char,
	STORAGE = plain
);
COMMENT ON TYPE privacy.ip_address IS
'One IPv4 or IPv6 host address in 17 bytes, ordered like inet; personal data of category credentials.ip_address';

-- Comparison and hash support functions, operators and operator classes.
-- Written out once per type: an extension script has no loops.

CREATE FUNCTION privacy.email_eq(privacy.email, privacy.email) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_email_eq' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.email_ne(privacy.email, privacy.email) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_email_ne' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.email_lt(privacy.email, privacy.email) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_email_lt' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.email_le(privacy.email, privacy.email) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_email_le' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.email_gt(privacy.email, privacy.email) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_email_gt' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.email_ge(privacy.email, privacy.email) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_email_ge' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.email_cmp(privacy.email, privacy.email) RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_email_cmp' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.email_hash(privacy.email) RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_email_hash' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.email_hash_extended(privacy.email, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'privacy_email_hash_extended' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION privacy.email_eq(privacy.email, privacy.email) IS 'Implementation of = for privacy.email: equal without regard to case';
COMMENT ON FUNCTION privacy.email_ne(privacy.email, privacy.email) IS 'Implementation of <> for privacy.email';
COMMENT ON FUNCTION privacy.email_lt(privacy.email, privacy.email) IS 'Implementation of < for privacy.email';
COMMENT ON FUNCTION privacy.email_le(privacy.email, privacy.email) IS 'Implementation of <= for privacy.email';
COMMENT ON FUNCTION privacy.email_gt(privacy.email, privacy.email) IS 'Implementation of > for privacy.email';
COMMENT ON FUNCTION privacy.email_ge(privacy.email, privacy.email) IS 'Implementation of >= for privacy.email';
COMMENT ON FUNCTION privacy.email_cmp(privacy.email, privacy.email) IS 'Btree support for privacy.email: byte order of the addresses in lower case';
COMMENT ON FUNCTION privacy.email_hash(privacy.email) IS 'Hash support for privacy.email: hash of the address in lower case';
COMMENT ON FUNCTION privacy.email_hash_extended(privacy.email, bigint) IS 'Extended (seeded, 64-bit) hash support for privacy.email';

CREATE FUNCTION privacy.phone_eq(privacy.phone, privacy.phone) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_phone_eq' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.phone_ne(privacy.phone, privacy.phone) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_phone_ne' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.phone_lt(privacy.phone, privacy.phone) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_phone_lt' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.phone_le(privacy.phone, privacy.phone) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_phone_le' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.phone_gt(privacy.phone, privacy.phone) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_phone_gt' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.phone_ge(privacy.phone, privacy.phone) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_phone_ge' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.phone_cmp(privacy.phone, privacy.phone) RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_phone_cmp' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.phone_hash(privacy.phone) RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_phone_hash' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.phone_hash_extended(privacy.phone, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'privacy_phone_hash_extended' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION privacy.phone_eq(privacy.phone, privacy.phone) IS 'Implementation of = for privacy.phone';
COMMENT ON FUNCTION privacy.phone_ne(privacy.phone, privacy.phone) IS 'Implementation of <> for privacy.phone';
COMMENT ON FUNCTION privacy.phone_lt(privacy.phone, privacy.phone) IS 'Implementation of < for privacy.phone';
COMMENT ON FUNCTION privacy.phone_le(privacy.phone, privacy.phone) IS 'Implementation of <= for privacy.phone';
COMMENT ON FUNCTION privacy.phone_gt(privacy.phone, privacy.phone) IS 'Implementation of > for privacy.phone';
COMMENT ON FUNCTION privacy.phone_ge(privacy.phone, privacy.phone) IS 'Implementation of >= for privacy.phone';
COMMENT ON FUNCTION privacy.phone_cmp(privacy.phone, privacy.phone) IS 'Btree support for privacy.phone: order of the E.164 digit strings';
COMMENT ON FUNCTION privacy.phone_hash(privacy.phone) IS 'Hash support for privacy.phone';
COMMENT ON FUNCTION privacy.phone_hash_extended(privacy.phone, bigint) IS 'Extended (seeded, 64-bit) hash support for privacy.phone';

CREATE FUNCTION privacy.ip_address_eq(privacy.ip_address, privacy.ip_address) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_ip_address_eq' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.ip_address_ne(privacy.ip_address, privacy.ip_address) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_ip_address_ne' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.ip_address_lt(privacy.ip_address, privacy.ip_address) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_ip_address_lt' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.ip_address_le(privacy.ip_address, privacy.ip_address) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_ip_address_le' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.ip_address_gt(privacy.ip_address, privacy.ip_address) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_ip_address_gt' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.ip_address_ge(privacy.ip_address, privacy.ip_address) RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_ip_address_ge' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.ip_address_cmp(privacy.ip_address, privacy.ip_address) RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_ip_address_cmp' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.ip_address_hash(privacy.ip_address) RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_ip_address_hash' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION privacy.ip_address_hash_extended(privacy.ip_address, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'privacy_ip_address_hash_extended' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION privacy.ip_address_eq(privacy.ip_address, privacy.ip_address) IS 'Implementation of = for privacy.ip_address';
COMMENT ON FUNCTION privacy.ip_address_ne(privacy.ip_address, privacy.ip_address) IS 'Implementation of <> for privacy.ip_address';
COMMENT ON FUNCTION privacy.ip_address_lt(privacy.ip_address, privacy.ip_address) IS 'Implementation of < for privacy.ip_address';
COMMENT ON FUNCTION privacy.ip_address_le(privacy.ip_address, privacy.ip_address) IS 'Implementation of <= for privacy.ip_address';
COMMENT ON FUNCTION privacy.ip_address_gt(privacy.ip_address, privacy.ip_address) IS 'Implementation of > for privacy.ip_address';
COMMENT ON FUNCTION privacy.ip_address_ge(privacy.ip_address, privacy.ip_address) IS 'Implementation of >= for privacy.ip_address';
COMMENT ON FUNCTION privacy.ip_address_cmp(privacy.ip_address, privacy.ip_address) IS 'Btree support for privacy.ip_address: IPv4 before IPv6, then numeric order';
COMMENT ON FUNCTION privacy.ip_address_hash(privacy.ip_address) IS 'Hash support for privacy.ip_address';
COMMENT ON FUNCTION privacy.ip_address_hash_extended(privacy.ip_address, bigint) IS 'Extended (seeded, 64-bit) hash support for privacy.ip_address';

CREATE OPERATOR privacy.= (
	LEFTARG = privacy.email, RIGHTARG = privacy.email, FUNCTION = privacy.email_eq,
	COMMUTATOR = OPERATOR(privacy.=), NEGATOR = OPERATOR(privacy.<>),
	RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel,
	HASHES, MERGES
);
CREATE OPERATOR privacy.<> (
	LEFTARG = privacy.email, RIGHTARG = privacy.email, FUNCTION = privacy.email_ne,
	COMMUTATOR = OPERATOR(privacy.<>), NEGATOR = OPERATOR(privacy.=),
	RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel
);
CREATE OPERATOR privacy.< (
	LEFTARG = privacy.email, RIGHTARG = privacy.email, FUNCTION = privacy.email_lt,
	COMMUTATOR = OPERATOR(privacy.>), NEGATOR = OPERATOR(privacy.>=),
	RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel
);
CREATE OPERATOR privacy.<= (
	LEFTARG = privacy.email, RIGHTARG = privacy.email, FUNCTION = privacy.email_le,
	COMMUTATOR = OPERATOR(privacy.>=), NEGATOR = OPERATOR(privacy.>),
	RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel
);
CREATE OPERATOR privacy.> (
	LEFTARG = privacy.email, RIGHTARG = privacy.email, FUNCTION = privacy.email_gt,
	COMMUTATOR = OPERATOR(privacy.<), NEGATOR = OPERATOR(privacy.<=),
	RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel
);
CREATE OPERATOR privacy.>= (
	LEFTARG = privacy.email, RIGHTARG = privacy.email, FUNCTION = privacy.email_ge,
	COMMUTATOR = OPERATOR(privacy.<=), NEGATOR = OPERATOR(privacy.<),
	RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel
);
COMMENT ON OPERATOR privacy.= (privacy.email, privacy.email) IS 'equal (without regard to case)';
COMMENT ON OPERATOR privacy.<> (privacy.email, privacy.email) IS 'not equal (without regard to case)';
COMMENT ON OPERATOR privacy.< (privacy.email, privacy.email) IS 'less than';
COMMENT ON OPERATOR privacy.<= (privacy.email, privacy.email) IS 'less than or equal';
COMMENT ON OPERATOR privacy.> (privacy.email, privacy.email) IS 'greater than';
COMMENT ON OPERATOR privacy.>= (privacy.email, privacy.email) IS 'greater than or equal';

CREATE OPERATOR CLASS privacy.email_ops
	DEFAULT FOR TYPE privacy.email USING btree AS
		OPERATOR 1 privacy.<,
		OPERATOR 2 privacy.<=,
		OPERATOR 3 privacy.=,
		OPERATOR 4 privacy.>=,
		OPERATOR 5 privacy.>,
		FUNCTION 1 privacy.email_cmp(privacy.email, privacy.email);
COMMENT ON OPERATOR FAMILY privacy.email_ops USING btree IS
'Btree operators of privacy.email';
COMMENT ON OPERATOR CLASS privacy.email_ops USING btree IS
'Default btree operator class of privacy.email';

CREATE OPERATOR CLASS privacy.email_hash_ops
	DEFAULT FOR TYPE privacy.email USING hash AS
		OPERATOR 1 privacy.=,
		FUNCTION 1 privacy.email_hash(privacy.email),
		FUNCTION 2 privacy.email_hash_extended(privacy.email, bigint);
COMMENT ON OPERATOR FAMILY privacy.email_hash_ops USING hash IS
'Hash operators of privacy.email';
COMMENT ON OPERATOR CLASS privacy.email_hash_ops USING hash IS
'Default hash operator class of privacy.email';

CREATE OPERATOR privacy.= (
	LEFTARG = privacy.phone, RIGHTARG = privacy.phone, FUNCTION = privacy.phone_eq,
	COMMUTATOR = OPERATOR(privacy.=), NEGATOR = OPERATOR(privacy.<>),
	RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel,
	HASHES, MERGES
);
CREATE OPERATOR privacy.<> (
	LEFTARG = privacy.phone, RIGHTARG = privacy.phone, FUNCTION = privacy.phone_ne,
	COMMUTATOR = OPERATOR(privacy.<>), NEGATOR = OPERATOR(privacy.=),
	RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel
);
CREATE OPERATOR privacy.< (
	LEFTARG = privacy.phone, RIGHTARG = privacy.phone, FUNCTION = privacy.phone_lt,
	COMMUTATOR = OPERATOR(privacy.>), NEGATOR = OPERATOR(privacy.>=),
	RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel
);
CREATE OPERATOR privacy.<= (
	LEFTARG = privacy.phone, RIGHTARG = privacy.phone, FUNCTION = privacy.phone_le,
	COMMUTATOR = OPERATOR(privacy.>=), NEGATOR = OPERATOR(privacy.>),
	RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel
);
CREATE OPERATOR privacy.> (
	LEFTARG = privacy.phone, RIGHTARG = privacy.phone, FUNCTION = privacy.phone_gt,
	COMMUTATOR = OPERATOR(privacy.<), NEGATOR = OPERATOR(privacy.<=),
	RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel
);
CREATE OPERATOR privacy.>= (
	LEFTARG = privacy.phone, RIGHTARG = privacy.phone, FUNCTION = privacy.phone_ge,
	COMMUTATOR = OPERATOR(privacy.<=), NEGATOR = OPERATOR(privacy.<),
	RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel
);
COMMENT ON OPERATOR privacy.= (privacy.phone, privacy.phone) IS 'equal';
COMMENT ON OPERATOR privacy.<> (privacy.phone, privacy.phone) IS 'not equal';
COMMENT ON OPERATOR privacy.< (privacy.phone, privacy.phone) IS 'less than';
COMMENT ON OPERATOR privacy.<= (privacy.phone, privacy.phone) IS 'less than or equal';
COMMENT ON OPERATOR privacy.> (privacy.phone, privacy.phone) IS 'greater than';
COMMENT ON OPERATOR privacy.>= (privacy.phone, privacy.phone) IS 'greater than or equal';

CREATE OPERATOR CLASS privacy.phone_ops
	DEFAULT FOR TYPE privacy.phone USING btree AS
		OPERATOR 1 privacy.<,
		OPERATOR 2 privacy.<=,
		OPERATOR 3 privacy.=,
		OPERATOR 4 privacy.>=,
		OPERATOR 5 privacy.>,
		FUNCTION 1 privacy.phone_cmp(privacy.phone, privacy.phone);
COMMENT ON OPERATOR FAMILY privacy.phone_ops USING btree IS
'Btree operators of privacy.phone';
COMMENT ON OPERATOR CLASS privacy.phone_ops USING btree IS
'Default btree operator class of privacy.phone';

CREATE OPERATOR CLASS privacy.phone_hash_ops
	DEFAULT FOR TYPE privacy.phone USING hash AS
		OPERATOR 1 privacy.=,
		FUNCTION 1 privacy.phone_hash(privacy.phone),
		FUNCTION 2 privacy.phone_hash_extended(privacy.phone, bigint);
COMMENT ON OPERATOR FAMILY privacy.phone_hash_ops USING hash IS
'Hash operators of privacy.phone';
COMMENT ON OPERATOR CLASS privacy.phone_hash_ops USING hash IS
'Default hash operator class of privacy.phone';

CREATE OPERATOR privacy.= (
	LEFTARG = privacy.ip_address, RIGHTARG = privacy.ip_address, FUNCTION = privacy.ip_address_eq,
	COMMUTATOR = OPERATOR(privacy.=), NEGATOR = OPERATOR(privacy.<>),
	RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel,
	HASHES, MERGES
);
CREATE OPERATOR privacy.<> (
	LEFTARG = privacy.ip_address, RIGHTARG = privacy.ip_address, FUNCTION = privacy.ip_address_ne,
	COMMUTATOR = OPERATOR(privacy.<>), NEGATOR = OPERATOR(privacy.=),
	RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel
);
CREATE OPERATOR privacy.< (
	LEFTARG = privacy.ip_address, RIGHTARG = privacy.ip_address, FUNCTION = privacy.ip_address_lt,
	COMMUTATOR = OPERATOR(privacy.>), NEGATOR = OPERATOR(privacy.>=),
	RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel
);
CREATE OPERATOR privacy.<= (
	LEFTARG = privacy.ip_address, RIGHTARG = privacy.ip_address, FUNCTION = privacy.ip_address_le,
	COMMUTATOR = OPERATOR(privacy.>=), NEGATOR = OPERATOR(privacy.>),
	RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel
);
CREATE OPERATOR privacy.> (
	LEFTARG = privacy.ip_address, RIGHTARG = privacy.ip_address, FUNCTION = privacy.ip_address_gt,
	COMMUTATOR = OPERATOR(privacy.<), NEGATOR = OPERATOR(privacy.<=),
	RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel
);
CREATE OPERATOR privacy.>= (
	LEFTARG = privacy.ip_address, RIGHTARG = privacy.ip_address, FUNCTION = privacy.ip_address_ge,
	COMMUTATOR = OPERATOR(privacy.<=), NEGATOR = OPERATOR(privacy.<),
	RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel
);
COMMENT ON OPERATOR privacy.= (privacy.ip_address, privacy.ip_address) IS 'equal';
COMMENT ON OPERATOR privacy.<> (privacy.ip_address, privacy.ip_address) IS 'not equal';
COMMENT ON OPERATOR privacy.< (privacy.ip_address, privacy.ip_address) IS 'less than';
COMMENT ON OPERATOR privacy.<= (privacy.ip_address, privacy.ip_address) IS 'less than or equal';
COMMENT ON OPERATOR privacy.> (privacy.ip_address, privacy.ip_address) IS 'greater than';
COMMENT ON OPERATOR privacy.>= (privacy.ip_address, privacy.ip_address) IS 'greater than or equal';

CREATE OPERATOR CLASS privacy.ip_address_ops
	DEFAULT FOR TYPE privacy.ip_address USING btree AS
		OPERATOR 1 privacy.<,
		OPERATOR 2 privacy.<=,
		OPERATOR 3 privacy.=,
		OPERATOR 4 privacy.>=,
		OPERATOR 5 privacy.>,
		FUNCTION 1 privacy.ip_address_cmp(privacy.ip_address, privacy.ip_address);
COMMENT ON OPERATOR FAMILY privacy.ip_address_ops USING btree IS
'Btree operators of privacy.ip_address';
COMMENT ON OPERATOR CLASS privacy.ip_address_ops USING btree IS
'Default btree operator class of privacy.ip_address';

CREATE OPERATOR CLASS privacy.ip_address_hash_ops
	DEFAULT FOR TYPE privacy.ip_address USING hash AS
		OPERATOR 1 privacy.=,
		FUNCTION 1 privacy.ip_address_hash(privacy.ip_address),
		FUNCTION 2 privacy.ip_address_hash_extended(privacy.ip_address, bigint);
COMMENT ON OPERATOR FAMILY privacy.ip_address_hash_ops USING hash IS
'Hash operators of privacy.ip_address';
COMMENT ON OPERATOR CLASS privacy.ip_address_hash_ops USING hash IS
'Default hash operator class of privacy.ip_address';

-- Casts. Text converts both ways in assignments (so INSERT ... SELECT from
-- a text column validates), ip_address widens to inet implicitly (so the
-- inet operators and functions apply), and inet narrows in assignments.

CREATE CAST (privacy.email AS text) WITH INOUT AS ASSIGNMENT;
CREATE CAST (text AS privacy.email) WITH INOUT AS ASSIGNMENT;
CREATE CAST (privacy.phone AS text) WITH INOUT AS ASSIGNMENT;
CREATE CAST (text AS privacy.phone) WITH INOUT AS ASSIGNMENT;
CREATE CAST (privacy.ip_address AS text) WITH INOUT AS ASSIGNMENT;
CREATE CAST (text AS privacy.ip_address) WITH INOUT AS ASSIGNMENT;
COMMENT ON CAST (privacy.email AS text) IS 'The address as stored';
COMMENT ON CAST (text AS privacy.email) IS 'Validates and normalises an e-mail address';
COMMENT ON CAST (privacy.phone AS text) IS 'The number in E.164 form';
COMMENT ON CAST (text AS privacy.phone) IS 'Reads a telephone number into E.164 form';
COMMENT ON CAST (privacy.ip_address AS text) IS 'The address in canonical form';
COMMENT ON CAST (text AS privacy.ip_address) IS 'Validates an IPv4 or IPv6 host address';

CREATE FUNCTION privacy.ip_address_to_inet(privacy.ip_address)
RETURNS inet
AS 'MODULE_PATHNAME', 'privacy_ip_address_to_inet'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.ip_address_to_inet(privacy.ip_address) IS
'The address as an inet host address (/32 or /128)';
CREATE FUNCTION privacy.inet_to_ip_address(inet)
RETURNS privacy.ip_address
AS 'MODULE_PATHNAME', 'privacy_inet_to_ip_address'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.inet_to_ip_address(inet) IS
'The address of an inet, whatever its netmask (as host() reads it)';
CREATE CAST (privacy.ip_address AS inet)
	WITH FUNCTION privacy.ip_address_to_inet(privacy.ip_address) AS IMPLICIT;
CREATE CAST (inet AS privacy.ip_address)
	WITH FUNCTION privacy.inet_to_ip_address(inet) AS ASSIGNMENT;
COMMENT ON CAST (privacy.ip_address AS inet) IS 'The address as an inet host address';
COMMENT ON CAST (inet AS privacy.ip_address) IS 'The address of an inet; its netmask is dropped';

-- Masking, pseudonyms and truncation.

CREATE FUNCTION privacy.mask(privacy.email)
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_email_mask'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.mask(privacy.email) IS
'The address with only the first character of the local part and of the domain and the top-level domain shown, as in j***@e******.dk';

CREATE FUNCTION privacy.mask(privacy.phone)
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_phone_mask'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.mask(privacy.phone) IS
'The number with only the country code and the last two digits shown, as in +45 ** ** ** 78';

CREATE FUNCTION privacy.mask(privacy.ip_address)
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_ip_address_mask'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.mask(privacy.ip_address) IS
'The network of the address: /24 for IPv4 (192.168.1.0/24) and IPv4-mapped IPv6 (::ffff:192.168.1.0/120), /48 for other IPv6';

CREATE FUNCTION privacy.pseudonymize(privacy.email)
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_email_pseudonymize'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.pseudonymize(privacy.email) IS
'A stable pseudonym of the address (HMAC-SHA-256 of the address in lower case under the extension''s pseudonym key, in hex); equal addresses get equal pseudonyms';

CREATE FUNCTION privacy.pseudonymize(privacy.phone)
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_phone_pseudonymize'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.pseudonymize(privacy.phone) IS
'A stable pseudonym of the number (HMAC-SHA-256 of its E.164 form under the extension''s pseudonym key, in hex)';

CREATE FUNCTION privacy.pseudonymize(privacy.ip_address)
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_ip_address_pseudonymize'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.pseudonymize(privacy.ip_address) IS
'A stable pseudonym of the address (HMAC-SHA-256 of its canonical form under the extension''s pseudonym key, in hex)';

CREATE FUNCTION privacy.truncate_ip(address privacy.ip_address, bits integer)
RETURNS privacy.ip_address
AS 'MODULE_PATHNAME', 'privacy_ip_address_truncate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION privacy.truncate_ip(privacy.ip_address, integer) IS
'The address with every bit after the first bits set to zero (0 to 32 for IPv4, 0 to 128 for IPv6)';

-- Columns of these types classify themselves.
INSERT INTO privacy._type_categories (type_name, category) VALUES
	('privacy.email', 'contact.email'),
	('privacy.phone', 'contact.phone'),
	('privacy.ip_address', 'credentials.ip_address');

-- END types

-- BEGIN discovery and guard

------------------------------------------------------------------------------
-- Discovery of unclassified personal data, and the sensitive-data guard.
-- discover() samples the text columns no classification covers and reports
-- those whose values look like e-mail addresses, telephone numbers, IP
-- addresses, Danish CPR numbers or payment card numbers; _lint_discovery()
-- turns that into lint() findings. guard() installs a row trigger that
-- rejects or redacts CPR and card numbers in named text columns. All four
-- are DBA tools: they run with the caller's privileges and are not granted
-- to PUBLIC. The trigger function keeps the default EXECUTE for PUBLIC,
-- since CREATE TRIGGER (by guard() or by a restore) needs it; it cannot be
-- called other than as a trigger.
------------------------------------------------------------------------------

CREATE FUNCTION privacy.discover(sample_rows integer DEFAULT 1000)
RETURNS TABLE (table_name regclass, column_name name, suspected_category text,
			   hit_ratio double precision, rows_sampled bigint)
AS 'MODULE_PATHNAME', 'privacy_discover'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION privacy.discover(integer) FROM PUBLIC;
COMMENT ON FUNCTION privacy.discover(integer) IS
'Samples up to sample_rows rows of every unclassified text column the caller can read and reports the columns whose values look like personal data, with the share of sampled rows that do';

CREATE FUNCTION privacy._lint_discovery()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE WHEN d.suspected_category IN ('national_id', 'payment_card')
				THEN 'error' ELSE 'warning' END,
		   pg_catalog.format('%s.%I', privacy._qualified_name(d.table_name), d.column_name),
		   pg_catalog.format('column is not classified, but %s of %s sampled rows hold values that look like "%s"',
							 pg_catalog.round(d.hit_ratio * d.rows_sampled), d.rows_sampled,
							 d.suspected_category),
		   CASE WHEN d.suspected_category IN ('national_id', 'payment_card')
				THEN pg_catalog.format('The policy does not allow this data: remove the values, and keep new ones out with SELECT privacy.guard(%L, ARRAY[%L]);',
									   privacy._qualified_name(d.table_name), d.column_name)
				ELSE pg_catalog.format('Classify it: SECURITY LABEL FOR privacy ON COLUMN %s.%I IS %L; or add it to "classifications" in the policy document.',
									   privacy._qualified_name(d.table_name), d.column_name,
									   d.suspected_category)
		   END
	  FROM privacy.discover(100) d;
END;
REVOKE ALL ON FUNCTION privacy._lint_discovery() FROM PUBLIC;
COMMENT ON FUNCTION privacy._lint_discovery() IS
'lint: unclassified columns whose sampled values look like personal data (errors for CPR and payment card numbers, which the policy refuses)';

CREATE FUNCTION privacy._guard_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'privacy_guard_trigger'
LANGUAGE C;
COMMENT ON FUNCTION privacy._guard_trigger() IS
'Trigger installed by privacy.guard(): rejects or redacts CPR and payment card numbers in the columns named by its arguments (mode, column, ...)';

CREATE FUNCTION privacy.guard(table_name regclass, columns text[], mode text DEFAULT 'reject')
RETURNS void
AS 'MODULE_PATHNAME', 'privacy_guard'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION privacy.guard(regclass, text[], text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.guard(regclass, text[], text) IS
'Guards text columns of a table against Danish CPR numbers and payment card numbers: mode reject refuses such values, mode redact replaces the numbers and audits it; replaces an existing guard';

CREATE FUNCTION privacy.unguard(table_name regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'privacy_unguard'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION privacy.unguard(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy.unguard(regclass) IS
'Removes the guard installed by privacy.guard() from a table';

CREATE VIEW privacy.guards AS
SELECT t.tgrelid::pg_catalog.regclass AS table_name,
	   ARRAY(SELECT a.attname
			   FROM pg_catalog.unnest(t.tgattr::pg_catalog.int2[]) WITH ORDINALITY AS g(attnum, ord)
			   JOIN pg_catalog.pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = g.attnum
			  ORDER BY g.ord) AS columns,
	   pg_catalog.split_part(pg_catalog.encode(t.tgargs, 'escape'), '\000', 1) AS mode
  FROM pg_catalog.pg_trigger t
 WHERE t.tgfoid = 'privacy._guard_trigger()'::pg_catalog.regprocedure
   AND t.tgparentid = 0;
COMMENT ON VIEW privacy.guards IS
'Tables guarded by privacy.guard(): the columns examined and the mode (reject or redact)';
GRANT SELECT ON privacy.guards TO PUBLIC;

-- END discovery and guard
