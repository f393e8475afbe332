// Limits shared by the config check and the server (a module of its own so the DNS worker,
// which never parses config, does not load the YAML parser to read them).

/** Longest CNAME chain the server follows inside a zone; `check-config` refuses longer ones. */
export const MAX_CNAME_CHAIN = 8;
