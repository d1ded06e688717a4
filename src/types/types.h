/*
 * types.h
 *		The personal-data types: privacy.email, privacy.phone and
 *		privacy.ip_address.
 */
#ifndef PRIVACY_TYPES_H
#define PRIVACY_TYPES_H

/* Defines privacy.default_country_code and installs the operator hint (phone.c). */
extern void TypesInit(void);

/* Gives "operator does not exist" on the types a hint (operator_hint.c). */
extern void OperatorHintInit(void);

#endif							/* PRIVACY_TYPES_H */
