"""Per-task safety gates: the policy (YAML) and the pure function that judges a candidate with it."""
