/*
 * types.h
 *		The personal-data types: privacy.email, privacy.phone and
 *		privacy.ip_address.
 */
#ifndef PRIVACY_TYPES_H
#define PRIVACY_TYPES_H

/* Defines the privacy.default_country_code setting (phone.c). */
extern void TypesInit(void);

#endif							/* PRIVACY_TYPES_H */
