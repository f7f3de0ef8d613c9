/** Test secrets: 64+ characters, distinct, recognisable if they ever leaked. */
export const SECRET_A = "test-secret-A-0123456789abcdef0123456789abcdef0123456789abcdef-AAAA";
export const SECRET_B = "test-secret-B-0123456789abcdef0123456789abcdef0123456789abcdef-BBBB";
export const SECRET_C = "test-secret-C-0123456789abcdef0123456789abcdef0123456789abcdef-CCCC";
