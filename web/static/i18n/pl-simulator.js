// Polish texts: simulator. Keys and plural forms: docs/i18n.md.
export default {};
