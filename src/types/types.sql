-- types: the personal-data column types privacy.email, privacy.phone and
-- privacy.ip_address, their operators, casts and operator classes, mask()
-- and pseudonymize(). C: src/types/ (the parsers are in src/pure/).

CREATE TYPE privacy.email;

CREATE FUNCTION privacy.email_in(cstring) RETURNS privacy.email
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_in';

COMMENT ON FUNCTION privacy.email_in(cstring) IS 'Input function of privacy.email: validates an e-mail address and lower-cases its domain';

CREATE FUNCTION privacy.email_out(privacy.email) RETURNS cstring
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_out';

COMMENT ON FUNCTION privacy.email_out(privacy.email) IS 'Output function of privacy.email';

CREATE FUNCTION privacy.email_recv(internal) RETURNS privacy.email
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_recv';

COMMENT ON FUNCTION privacy.email_recv(internal) IS 'Binary input function of privacy.email: the address as ASCII text, validated like text input';

CREATE FUNCTION privacy.email_send(privacy.email) RETURNS bytea
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_send';

COMMENT ON FUNCTION privacy.email_send(privacy.email) IS 'Binary output function of privacy.email: the address as ASCII text';

CREATE TYPE privacy.email (
    INTERNALLENGTH = variable,
    INPUT = privacy.email_in,
    OUTPUT = privacy.email_out,
    RECEIVE = privacy.email_recv,
    SEND = privacy.email_send,
    ALIGNMENT = int4,
    STORAGE = extended
);

COMMENT ON TYPE privacy.email IS 'An e-mail address (RFC 5321/5322 dot-atom local part, LDH domain), stored as written with the domain in lower case, compared without regard to case; personal data of category contact.email';

CREATE TYPE privacy.ip_address;

CREATE FUNCTION privacy.ip_address_in(cstring) RETURNS privacy.ip_address
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_in';

COMMENT ON FUNCTION privacy.ip_address_in(cstring) IS 'Input function of privacy.ip_address: one IPv4 or IPv6 host address';

CREATE FUNCTION privacy.ip_address_out(privacy.ip_address) RETURNS cstring
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_out';

COMMENT ON FUNCTION privacy.ip_address_out(privacy.ip_address) IS 'Output function of privacy.ip_address: the canonical form, as host() prints an inet';

CREATE FUNCTION privacy.ip_address_recv(internal) RETURNS privacy.ip_address
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_recv';

COMMENT ON FUNCTION privacy.ip_address_recv(internal) IS 'Binary input function of privacy.ip_address: the family (4 or 6) in one byte, then the 4 or 16 address bytes';

CREATE FUNCTION privacy.ip_address_send(privacy.ip_address) RETURNS bytea
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_send';

COMMENT ON FUNCTION privacy.ip_address_send(privacy.ip_address) IS 'Binary output function of privacy.ip_address: the family (4 or 6) in one byte, then the 4 or 16 address bytes';

CREATE TYPE privacy.ip_address (
    INTERNALLENGTH = 17,
    INPUT = privacy.ip_address_in,
    OUTPUT = privacy.ip_address_out,
    RECEIVE = privacy.ip_address_recv,
    SEND = privacy.ip_address_send,
    ALIGNMENT = char,
    STORAGE = plain
);

COMMENT ON TYPE privacy.ip_address IS 'One IPv4 or IPv6 host address in 17 bytes, ordered like inet; personal data of category credentials.ip_address';

CREATE TYPE privacy.phone;

CREATE FUNCTION privacy.phone_in(cstring) RETURNS privacy.phone
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_in';

COMMENT ON FUNCTION privacy.phone_in(cstring) IS 'Input function of privacy.phone: reads international and national formats into E.164 (stable: a national number gets privacy.default_country_code)';

CREATE FUNCTION privacy.phone_out(privacy.phone) RETURNS cstring
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_out';

COMMENT ON FUNCTION privacy.phone_out(privacy.phone) IS 'Output function of privacy.phone: E.164, as in +4512345678';

CREATE FUNCTION privacy.phone_recv(internal) RETURNS privacy.phone
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_recv';

COMMENT ON FUNCTION privacy.phone_recv(internal) IS 'Binary input function of privacy.phone: the E.164 number as an int8 (4512345678 for +4512345678), validated';

CREATE FUNCTION privacy.phone_send(privacy.phone) RETURNS bytea
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_send';

COMMENT ON FUNCTION privacy.phone_send(privacy.phone) IS 'Binary output function of privacy.phone: the E.164 number as an int8 (4512345678 for +4512345678)';

CREATE TYPE privacy.phone (
    INTERNALLENGTH = 8,
    INPUT = privacy.phone_in,
    OUTPUT = privacy.phone_out,
    RECEIVE = privacy.phone_recv,
    SEND = privacy.phone_send,
    ALIGNMENT = double,
    STORAGE = plain,
    PASSEDBYVALUE
);

COMMENT ON TYPE privacy.phone IS 'A telephone number in E.164 form (+4512345678) with an assigned country calling code; personal data of category contact.phone';

CREATE CAST (privacy.email AS text) WITH INOUT AS ASSIGNMENT;

COMMENT ON CAST (privacy.email AS text) IS 'The address as stored';

CREATE FUNCTION privacy.inet_to_ip_address(inet) RETURNS privacy.ip_address
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_inet_to_ip_address';

COMMENT ON FUNCTION privacy.inet_to_ip_address(inet) IS 'The address of an inet, whatever its netmask (as host() reads it)';

CREATE CAST (inet AS privacy.ip_address) WITH FUNCTION privacy.inet_to_ip_address(inet) AS ASSIGNMENT;

COMMENT ON CAST (inet AS privacy.ip_address) IS 'The address of an inet; its netmask is dropped';

CREATE FUNCTION privacy.ip_address_to_inet(privacy.ip_address) RETURNS inet
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_to_inet';

COMMENT ON FUNCTION privacy.ip_address_to_inet(privacy.ip_address) IS 'The address as an inet host address (/32 or /128)';

CREATE CAST (privacy.ip_address AS inet) WITH FUNCTION privacy.ip_address_to_inet(privacy.ip_address) AS IMPLICIT;

COMMENT ON CAST (privacy.ip_address AS inet) IS 'The address as an inet host address';

CREATE CAST (privacy.ip_address AS text) WITH INOUT AS ASSIGNMENT;

COMMENT ON CAST (privacy.ip_address AS text) IS 'The address in canonical form';

CREATE CAST (privacy.phone AS text) WITH INOUT AS ASSIGNMENT;

COMMENT ON CAST (privacy.phone AS text) IS 'The number in E.164 form';

CREATE CAST (text AS privacy.email) WITH INOUT AS ASSIGNMENT;

COMMENT ON CAST (text AS privacy.email) IS 'Validates and normalises an e-mail address';

CREATE CAST (text AS privacy.ip_address) WITH INOUT AS ASSIGNMENT;

COMMENT ON CAST (text AS privacy.ip_address) IS 'Validates an IPv4 or IPv6 host address';

CREATE CAST (text AS privacy.phone) WITH INOUT AS ASSIGNMENT;

COMMENT ON CAST (text AS privacy.phone) IS 'Reads a telephone number into E.164 form';

CREATE FUNCTION privacy.email_cmp(privacy.email, privacy.email) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_cmp';

COMMENT ON FUNCTION privacy.email_cmp(privacy.email, privacy.email) IS 'Btree support for privacy.email: byte order of the addresses in lower case';

CREATE FUNCTION privacy.email_eq(privacy.email, privacy.email) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_eq';

COMMENT ON FUNCTION privacy.email_eq(privacy.email, privacy.email) IS 'Implementation of = for privacy.email: equal without regard to case';

CREATE FUNCTION privacy.email_ge(privacy.email, privacy.email) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_ge';

COMMENT ON FUNCTION privacy.email_ge(privacy.email, privacy.email) IS 'Implementation of >= for privacy.email';

CREATE FUNCTION privacy.email_gt(privacy.email, privacy.email) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_gt';

COMMENT ON FUNCTION privacy.email_gt(privacy.email, privacy.email) IS 'Implementation of > for privacy.email';

CREATE FUNCTION privacy.email_hash(privacy.email) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_hash';

COMMENT ON FUNCTION privacy.email_hash(privacy.email) IS 'Hash support for privacy.email: hash of the address in lower case';

CREATE FUNCTION privacy.email_hash_extended(privacy.email, bigint) RETURNS bigint
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_hash_extended';

COMMENT ON FUNCTION privacy.email_hash_extended(privacy.email, bigint) IS 'Extended (seeded, 64-bit) hash support for privacy.email';

CREATE FUNCTION privacy.email_le(privacy.email, privacy.email) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_le';

COMMENT ON FUNCTION privacy.email_le(privacy.email, privacy.email) IS 'Implementation of <= for privacy.email';

CREATE FUNCTION privacy.email_lt(privacy.email, privacy.email) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_lt';

COMMENT ON FUNCTION privacy.email_lt(privacy.email, privacy.email) IS 'Implementation of < for privacy.email';

CREATE FUNCTION privacy.email_ne(privacy.email, privacy.email) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_ne';

COMMENT ON FUNCTION privacy.email_ne(privacy.email, privacy.email) IS 'Implementation of <> for privacy.email';

CREATE FUNCTION privacy.ip_address_cmp(privacy.ip_address, privacy.ip_address) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_cmp';

COMMENT ON FUNCTION privacy.ip_address_cmp(privacy.ip_address, privacy.ip_address) IS 'Btree support for privacy.ip_address: IPv4 before IPv6, then numeric order';

CREATE FUNCTION privacy.ip_address_eq(privacy.ip_address, privacy.ip_address) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_eq';

COMMENT ON FUNCTION privacy.ip_address_eq(privacy.ip_address, privacy.ip_address) IS 'Implementation of = for privacy.ip_address';

CREATE FUNCTION privacy.ip_address_ge(privacy.ip_address, privacy.ip_address) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_ge';

COMMENT ON FUNCTION privacy.ip_address_ge(privacy.ip_address, privacy.ip_address) IS 'Implementation of >= for privacy.ip_address';

CREATE FUNCTION privacy.ip_address_gt(privacy.ip_address, privacy.ip_address) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_gt';

COMMENT ON FUNCTION privacy.ip_address_gt(privacy.ip_address, privacy.ip_address) IS 'Implementation of > for privacy.ip_address';

CREATE FUNCTION privacy.ip_address_hash(privacy.ip_address) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_hash';

COMMENT ON FUNCTION privacy.ip_address_hash(privacy.ip_address) IS 'Hash support for privacy.ip_address';

CREATE FUNCTION privacy.ip_address_hash_extended(privacy.ip_address, bigint) RETURNS bigint
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_hash_extended';

COMMENT ON FUNCTION privacy.ip_address_hash_extended(privacy.ip_address, bigint) IS 'Extended (seeded, 64-bit) hash support for privacy.ip_address';

CREATE FUNCTION privacy.ip_address_le(privacy.ip_address, privacy.ip_address) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_le';

COMMENT ON FUNCTION privacy.ip_address_le(privacy.ip_address, privacy.ip_address) IS 'Implementation of <= for privacy.ip_address';

CREATE FUNCTION privacy.ip_address_lt(privacy.ip_address, privacy.ip_address) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_lt';

COMMENT ON FUNCTION privacy.ip_address_lt(privacy.ip_address, privacy.ip_address) IS 'Implementation of < for privacy.ip_address';

CREATE FUNCTION privacy.ip_address_ne(privacy.ip_address, privacy.ip_address) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_ne';

COMMENT ON FUNCTION privacy.ip_address_ne(privacy.ip_address, privacy.ip_address) IS 'Implementation of <> for privacy.ip_address';

CREATE FUNCTION privacy.mask(privacy.email) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_mask';

COMMENT ON FUNCTION privacy.mask(privacy.email) IS 'The address with only the first character of the local part and of the domain and the top-level domain shown, as in j***@e******.dk';

CREATE FUNCTION privacy.mask(privacy.ip_address) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_mask';

COMMENT ON FUNCTION privacy.mask(privacy.ip_address) IS 'The network of the address: /24 for IPv4 (192.168.1.0/24) and IPv4-mapped IPv6 (::ffff:192.168.1.0/120), /48 for other IPv6';

CREATE FUNCTION privacy.mask(privacy.phone) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_mask';

COMMENT ON FUNCTION privacy.mask(privacy.phone) IS 'The number with only the country code and the last two digits shown, as in +45 ** ** ** 78';

CREATE FUNCTION privacy.phone_cmp(privacy.phone, privacy.phone) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_cmp';

COMMENT ON FUNCTION privacy.phone_cmp(privacy.phone, privacy.phone) IS 'Btree support for privacy.phone: order of the E.164 digit strings';

CREATE FUNCTION privacy.phone_eq(privacy.phone, privacy.phone) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_eq';

COMMENT ON FUNCTION privacy.phone_eq(privacy.phone, privacy.phone) IS 'Implementation of = for privacy.phone';

CREATE FUNCTION privacy.phone_ge(privacy.phone, privacy.phone) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_ge';

COMMENT ON FUNCTION privacy.phone_ge(privacy.phone, privacy.phone) IS 'Implementation of >= for privacy.phone';

CREATE FUNCTION privacy.phone_gt(privacy.phone, privacy.phone) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_gt';

COMMENT ON FUNCTION privacy.phone_gt(privacy.phone, privacy.phone) IS 'Implementation of > for privacy.phone';

CREATE FUNCTION privacy.phone_hash(privacy.phone) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_hash';

COMMENT ON FUNCTION privacy.phone_hash(privacy.phone) IS 'Hash support for privacy.phone';

CREATE FUNCTION privacy.phone_hash_extended(privacy.phone, bigint) RETURNS bigint
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_hash_extended';

COMMENT ON FUNCTION privacy.phone_hash_extended(privacy.phone, bigint) IS 'Extended (seeded, 64-bit) hash support for privacy.phone';

CREATE FUNCTION privacy.phone_le(privacy.phone, privacy.phone) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_le';

COMMENT ON FUNCTION privacy.phone_le(privacy.phone, privacy.phone) IS 'Implementation of <= for privacy.phone';

CREATE FUNCTION privacy.phone_lt(privacy.phone, privacy.phone) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_lt';

COMMENT ON FUNCTION privacy.phone_lt(privacy.phone, privacy.phone) IS 'Implementation of < for privacy.phone';

CREATE FUNCTION privacy.phone_ne(privacy.phone, privacy.phone) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_ne';

COMMENT ON FUNCTION privacy.phone_ne(privacy.phone, privacy.phone) IS 'Implementation of <> for privacy.phone';

CREATE FUNCTION privacy.pseudonymize(privacy.email) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_email_pseudonymize';

COMMENT ON FUNCTION privacy.pseudonymize(privacy.email) IS 'A stable pseudonym of the address (HMAC-SHA-256 of the address in lower case under the extension''s pseudonym key, in hex); equal addresses get equal pseudonyms';

REVOKE ALL ON FUNCTION privacy.pseudonymize(privacy.email) FROM PUBLIC;

CREATE FUNCTION privacy.pseudonymize(privacy.ip_address) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_pseudonymize';

COMMENT ON FUNCTION privacy.pseudonymize(privacy.ip_address) IS 'A stable pseudonym of the address (HMAC-SHA-256 of its canonical form under the extension''s pseudonym key, in hex)';

REVOKE ALL ON FUNCTION privacy.pseudonymize(privacy.ip_address) FROM PUBLIC;

CREATE FUNCTION privacy.pseudonymize(privacy.phone) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_phone_pseudonymize';

COMMENT ON FUNCTION privacy.pseudonymize(privacy.phone) IS 'A stable pseudonym of the number (HMAC-SHA-256 of its E.164 form under the extension''s pseudonym key, in hex)';

REVOKE ALL ON FUNCTION privacy.pseudonymize(privacy.phone) FROM PUBLIC;

CREATE FUNCTION privacy.truncate_ip(address privacy.ip_address, bits integer) RETURNS privacy.ip_address
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ip_address_truncate';

COMMENT ON FUNCTION privacy.truncate_ip(address privacy.ip_address, bits integer) IS 'The address with every bit after the first bits set to zero (0 to 32 for IPv4, 0 to 128 for IPv6)';

CREATE OPERATOR privacy.< (
    FUNCTION = privacy.email_lt,
    LEFTARG = privacy.email,
    RIGHTARG = privacy.email,
    COMMUTATOR = OPERATOR(privacy.>),
    NEGATOR = OPERATOR(privacy.>=),
    RESTRICT = scalarltsel,
    JOIN = scalarltjoinsel
);

COMMENT ON OPERATOR privacy.< (privacy.email, privacy.email) IS 'less than';

CREATE OPERATOR privacy.< (
    FUNCTION = privacy.ip_address_lt,
    LEFTARG = privacy.ip_address,
    RIGHTARG = privacy.ip_address,
    COMMUTATOR = OPERATOR(privacy.>),
    NEGATOR = OPERATOR(privacy.>=),
    RESTRICT = scalarltsel,
    JOIN = scalarltjoinsel
);

COMMENT ON OPERATOR privacy.< (privacy.ip_address, privacy.ip_address) IS 'less than';

CREATE OPERATOR privacy.< (
    FUNCTION = privacy.phone_lt,
    LEFTARG = privacy.phone,
    RIGHTARG = privacy.phone,
    COMMUTATOR = OPERATOR(privacy.>),
    NEGATOR = OPERATOR(privacy.>=),
    RESTRICT = scalarltsel,
    JOIN = scalarltjoinsel
);

COMMENT ON OPERATOR privacy.< (privacy.phone, privacy.phone) IS 'less than';

CREATE OPERATOR privacy.<= (
    FUNCTION = privacy.email_le,
    LEFTARG = privacy.email,
    RIGHTARG = privacy.email,
    COMMUTATOR = OPERATOR(privacy.>=),
    NEGATOR = OPERATOR(privacy.>),
    RESTRICT = scalarlesel,
    JOIN = scalarlejoinsel
);

COMMENT ON OPERATOR privacy.<= (privacy.email, privacy.email) IS 'less than or equal';

CREATE OPERATOR privacy.<= (
    FUNCTION = privacy.ip_address_le,
    LEFTARG = privacy.ip_address,
    RIGHTARG = privacy.ip_address,
    COMMUTATOR = OPERATOR(privacy.>=),
    NEGATOR = OPERATOR(privacy.>),
    RESTRICT = scalarlesel,
    JOIN = scalarlejoinsel
);

COMMENT ON OPERATOR privacy.<= (privacy.ip_address, privacy.ip_address) IS 'less than or equal';

CREATE OPERATOR privacy.<= (
    FUNCTION = privacy.phone_le,
    LEFTARG = privacy.phone,
    RIGHTARG = privacy.phone,
    COMMUTATOR = OPERATOR(privacy.>=),
    NEGATOR = OPERATOR(privacy.>),
    RESTRICT = scalarlesel,
    JOIN = scalarlejoinsel
);

COMMENT ON OPERATOR privacy.<= (privacy.phone, privacy.phone) IS 'less than or equal';

CREATE OPERATOR privacy.<> (
    FUNCTION = privacy.email_ne,
    LEFTARG = privacy.email,
    RIGHTARG = privacy.email,
    COMMUTATOR = OPERATOR(privacy.<>),
    NEGATOR = OPERATOR(privacy.=),
    RESTRICT = neqsel,
    JOIN = neqjoinsel
);

COMMENT ON OPERATOR privacy.<> (privacy.email, privacy.email) IS 'not equal (without regard to case)';

CREATE OPERATOR privacy.<> (
    FUNCTION = privacy.ip_address_ne,
    LEFTARG = privacy.ip_address,
    RIGHTARG = privacy.ip_address,
    COMMUTATOR = OPERATOR(privacy.<>),
    NEGATOR = OPERATOR(privacy.=),
    RESTRICT = neqsel,
    JOIN = neqjoinsel
);

COMMENT ON OPERATOR privacy.<> (privacy.ip_address, privacy.ip_address) IS 'not equal';

CREATE OPERATOR privacy.<> (
    FUNCTION = privacy.phone_ne,
    LEFTARG = privacy.phone,
    RIGHTARG = privacy.phone,
    COMMUTATOR = OPERATOR(privacy.<>),
    NEGATOR = OPERATOR(privacy.=),
    RESTRICT = neqsel,
    JOIN = neqjoinsel
);

COMMENT ON OPERATOR privacy.<> (privacy.phone, privacy.phone) IS 'not equal';

CREATE OPERATOR privacy.= (
    FUNCTION = privacy.email_eq,
    LEFTARG = privacy.email,
    RIGHTARG = privacy.email,
    COMMUTATOR = OPERATOR(privacy.=),
    NEGATOR = OPERATOR(privacy.<>),
    MERGES,
    HASHES,
    RESTRICT = eqsel,
    JOIN = eqjoinsel
);

COMMENT ON OPERATOR privacy.= (privacy.email, privacy.email) IS 'equal (without regard to case)';

CREATE OPERATOR privacy.= (
    FUNCTION = privacy.ip_address_eq,
    LEFTARG = privacy.ip_address,
    RIGHTARG = privacy.ip_address,
    COMMUTATOR = OPERATOR(privacy.=),
    NEGATOR = OPERATOR(privacy.<>),
    MERGES,
    HASHES,
    RESTRICT = eqsel,
    JOIN = eqjoinsel
);

COMMENT ON OPERATOR privacy.= (privacy.ip_address, privacy.ip_address) IS 'equal';

CREATE OPERATOR privacy.= (
    FUNCTION = privacy.phone_eq,
    LEFTARG = privacy.phone,
    RIGHTARG = privacy.phone,
    COMMUTATOR = OPERATOR(privacy.=),
    NEGATOR = OPERATOR(privacy.<>),
    MERGES,
    HASHES,
    RESTRICT = eqsel,
    JOIN = eqjoinsel
);

COMMENT ON OPERATOR privacy.= (privacy.phone, privacy.phone) IS 'equal';

CREATE OPERATOR privacy.> (
    FUNCTION = privacy.email_gt,
    LEFTARG = privacy.email,
    RIGHTARG = privacy.email,
    COMMUTATOR = OPERATOR(privacy.<),
    NEGATOR = OPERATOR(privacy.<=),
    RESTRICT = scalargtsel,
    JOIN = scalargtjoinsel
);

COMMENT ON OPERATOR privacy.> (privacy.email, privacy.email) IS 'greater than';

CREATE OPERATOR privacy.> (
    FUNCTION = privacy.ip_address_gt,
    LEFTARG = privacy.ip_address,
    RIGHTARG = privacy.ip_address,
    COMMUTATOR = OPERATOR(privacy.<),
    NEGATOR = OPERATOR(privacy.<=),
    RESTRICT = scalargtsel,
    JOIN = scalargtjoinsel
);

COMMENT ON OPERATOR privacy.> (privacy.ip_address, privacy.ip_address) IS 'greater than';

CREATE OPERATOR privacy.> (
    FUNCTION = privacy.phone_gt,
    LEFTARG = privacy.phone,
    RIGHTARG = privacy.phone,
    COMMUTATOR = OPERATOR(privacy.<),
    NEGATOR = OPERATOR(privacy.<=),
    RESTRICT = scalargtsel,
    JOIN = scalargtjoinsel
);

COMMENT ON OPERATOR privacy.> (privacy.phone, privacy.phone) IS 'greater than';

CREATE OPERATOR privacy.>= (
    FUNCTION = privacy.email_ge,
    LEFTARG = privacy.email,
    RIGHTARG = privacy.email,
    COMMUTATOR = OPERATOR(privacy.<=),
    NEGATOR = OPERATOR(privacy.<),
    RESTRICT = scalargesel,
    JOIN = scalargejoinsel
);

COMMENT ON OPERATOR privacy.>= (privacy.email, privacy.email) IS 'greater than or equal';

CREATE OPERATOR privacy.>= (
    FUNCTION = privacy.ip_address_ge,
    LEFTARG = privacy.ip_address,
    RIGHTARG = privacy.ip_address,
    COMMUTATOR = OPERATOR(privacy.<=),
    NEGATOR = OPERATOR(privacy.<),
    RESTRICT = scalargesel,
    JOIN = scalargejoinsel
);

COMMENT ON OPERATOR privacy.>= (privacy.ip_address, privacy.ip_address) IS 'greater than or equal';

CREATE OPERATOR privacy.>= (
    FUNCTION = privacy.phone_ge,
    LEFTARG = privacy.phone,
    RIGHTARG = privacy.phone,
    COMMUTATOR = OPERATOR(privacy.<=),
    NEGATOR = OPERATOR(privacy.<),
    RESTRICT = scalargesel,
    JOIN = scalargejoinsel
);

COMMENT ON OPERATOR privacy.>= (privacy.phone, privacy.phone) IS 'greater than or equal';

CREATE OPERATOR FAMILY privacy.email_hash_ops USING hash;
ALTER OPERATOR FAMILY privacy.email_hash_ops USING hash ADD
    FUNCTION 2 (privacy.email, privacy.email) privacy.email_hash_extended(privacy.email,bigint);

COMMENT ON OPERATOR FAMILY privacy.email_hash_ops USING hash IS 'Hash operators of privacy.email';

CREATE OPERATOR CLASS privacy.email_hash_ops
    DEFAULT FOR TYPE privacy.email USING hash FAMILY privacy.email_hash_ops AS
    OPERATOR 1 privacy.=(privacy.email,privacy.email) ,
    FUNCTION 1 (privacy.email, privacy.email) privacy.email_hash(privacy.email);

COMMENT ON OPERATOR CLASS privacy.email_hash_ops USING hash IS 'Default hash operator class of privacy.email';

CREATE OPERATOR FAMILY privacy.email_ops USING btree;

COMMENT ON OPERATOR FAMILY privacy.email_ops USING btree IS 'Btree operators of privacy.email';

CREATE OPERATOR CLASS privacy.email_ops
    DEFAULT FOR TYPE privacy.email USING btree FAMILY privacy.email_ops AS
    OPERATOR 1 privacy.<(privacy.email,privacy.email) ,
    OPERATOR 2 privacy.<=(privacy.email,privacy.email) ,
    OPERATOR 3 privacy.=(privacy.email,privacy.email) ,
    OPERATOR 4 privacy.>=(privacy.email,privacy.email) ,
    OPERATOR 5 privacy.>(privacy.email,privacy.email) ,
    FUNCTION 1 (privacy.email, privacy.email) privacy.email_cmp(privacy.email,privacy.email);

COMMENT ON OPERATOR CLASS privacy.email_ops USING btree IS 'Default btree operator class of privacy.email';

CREATE OPERATOR FAMILY privacy.ip_address_hash_ops USING hash;
ALTER OPERATOR FAMILY privacy.ip_address_hash_ops USING hash ADD
    FUNCTION 2 (privacy.ip_address, privacy.ip_address) privacy.ip_address_hash_extended(privacy.ip_address,bigint);

COMMENT ON OPERATOR FAMILY privacy.ip_address_hash_ops USING hash IS 'Hash operators of privacy.ip_address';

CREATE OPERATOR CLASS privacy.ip_address_hash_ops
    DEFAULT FOR TYPE privacy.ip_address USING hash FAMILY privacy.ip_address_hash_ops AS
    OPERATOR 1 privacy.=(privacy.ip_address,privacy.ip_address) ,
    FUNCTION 1 (privacy.ip_address, privacy.ip_address) privacy.ip_address_hash(privacy.ip_address);

COMMENT ON OPERATOR CLASS privacy.ip_address_hash_ops USING hash IS 'Default hash operator class of privacy.ip_address';

CREATE OPERATOR FAMILY privacy.ip_address_ops USING btree;

COMMENT ON OPERATOR FAMILY privacy.ip_address_ops USING btree IS 'Btree operators of privacy.ip_address';

CREATE OPERATOR CLASS privacy.ip_address_ops
    DEFAULT FOR TYPE privacy.ip_address USING btree FAMILY privacy.ip_address_ops AS
    OPERATOR 1 privacy.<(privacy.ip_address,privacy.ip_address) ,
    OPERATOR 2 privacy.<=(privacy.ip_address,privacy.ip_address) ,
    OPERATOR 3 privacy.=(privacy.ip_address,privacy.ip_address) ,
    OPERATOR 4 privacy.>=(privacy.ip_address,privacy.ip_address) ,
    OPERATOR 5 privacy.>(privacy.ip_address,privacy.ip_address) ,
    FUNCTION 1 (privacy.ip_address, privacy.ip_address) privacy.ip_address_cmp(privacy.ip_address,privacy.ip_address);

COMMENT ON OPERATOR CLASS privacy.ip_address_ops USING btree IS 'Default btree operator class of privacy.ip_address';

CREATE OPERATOR FAMILY privacy.phone_hash_ops USING hash;
ALTER OPERATOR FAMILY privacy.phone_hash_ops USING hash ADD
    FUNCTION 2 (privacy.phone, privacy.phone) privacy.phone_hash_extended(privacy.phone,bigint);

COMMENT ON OPERATOR FAMILY privacy.phone_hash_ops USING hash IS 'Hash operators of privacy.phone';

CREATE OPERATOR CLASS privacy.phone_hash_ops
    DEFAULT FOR TYPE privacy.phone USING hash FAMILY privacy.phone_hash_ops AS
    OPERATOR 1 privacy.=(privacy.phone,privacy.phone) ,
    FUNCTION 1 (privacy.phone, privacy.phone) privacy.phone_hash(privacy.phone);

COMMENT ON OPERATOR CLASS privacy.phone_hash_ops USING hash IS 'Default hash operator class of privacy.phone';

CREATE OPERATOR FAMILY privacy.phone_ops USING btree;

COMMENT ON OPERATOR FAMILY privacy.phone_ops USING btree IS 'Btree operators of privacy.phone';

CREATE OPERATOR CLASS privacy.phone_ops
    DEFAULT FOR TYPE privacy.phone USING btree FAMILY privacy.phone_ops AS
    OPERATOR 1 privacy.<(privacy.phone,privacy.phone) ,
    OPERATOR 2 privacy.<=(privacy.phone,privacy.phone) ,
    OPERATOR 3 privacy.=(privacy.phone,privacy.phone) ,
    OPERATOR 4 privacy.>=(privacy.phone,privacy.phone) ,
    OPERATOR 5 privacy.>(privacy.phone,privacy.phone) ,
    FUNCTION 1 (privacy.phone, privacy.phone) privacy.phone_cmp(privacy.phone,privacy.phone);

COMMENT ON OPERATOR CLASS privacy.phone_ops USING btree IS 'Default btree operator class of privacy.phone';
