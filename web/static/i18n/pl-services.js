// Polish texts: services. Keys and plural forms: docs/i18n.md.
export default {};
