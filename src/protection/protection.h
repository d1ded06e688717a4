/*
 * protection.h
 *		Row policies that privacy.protect() puts on tables.
 */
#ifndef PRIVACY_PROTECTION_H
#define PRIVACY_PROTECTION_H

/* Name of the restrictive policy that checks a table's rows against the purpose. */
#define PROTECTION_PURPOSE_POLICY "privacy_purpose"

extern void ProtectionInit(void);

#endif							/* PRIVACY_PROTECTION_H */
