/*
 * pd_type.c
 *		What the personal-data column types share: their error reports,
 *		reading binary input, and pseudonyms.
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "base/compat.h"
#include "base/keys.h"
#include "types/pd_type.h"

void
pd_type_invalid_input(const char *typname, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s", typname),
			 errdetail("%s", detail),
			 hint ? errhint("%s", hint) : 0));
	pg_unreachable();
}

void
pd_type_invalid_binary(const char *typname, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary data for type %s", typname),
			 errdetail("%s", detail)));
	pg_unreachable();
}

const char *
pd_type_recv_bytes(StringInfo buf, int n, const char *typname)
{
	const char *result;

	if (n < 0 || buf->len - buf->cursor < n)
		pd_type_invalid_binary(typname, "The data ends before the value does.");
	result = buf->data + buf->cursor;
	buf->cursor += n;
	return result;
}

text *
pd_type_pseudonym(const char *typname, const char *canonical, size_t len)
{
	StringInfoData msg;
	uint8_t		mac[PRIVACY_HMAC_LEN];
	char		hex[PRIVACY_HMAC_LEN * 2];

	initStringInfo(&msg);
	appendStringInfoString(&msg, typname);
	appendStringInfoChar(&msg, '\0');
	appendBinaryStringInfo(&msg, canonical, (int) len);
	privacy_keyed_hash(PRIVACY_KEY_PSEUDONYM, msg.data, msg.len, mac);
	pfree(msg.data);
	hex_encode((const char *) mac, PRIVACY_HMAC_LEN, hex);
	return cstring_to_text_with_len(hex, sizeof(hex));
}
