//! Cross-component tests live in `tests/` beside this file: architecture rules
//! checked against the real dependency graph, and (as the hub grows) scenarios
//! that run hub and store nodes together.
