/*
 * text_types.h
 *		Which column types hold free text that can be scanned for personal
 *		data (discovery, the sensitive-data guard).
 */
#ifndef PRIVACY_TEXT_TYPES_H
#define PRIVACY_TEXT_TYPES_H

/*
 * Whether values of typid (or of the type a domain is over) are text:
 * text, character varying, character or citext, and json/jsonb when
 * include_json is true.
 */
extern bool privacy_is_text_type(Oid typid, bool include_json);

#endif							/* PRIVACY_TEXT_TYPES_H */
