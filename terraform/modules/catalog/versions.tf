terraform {
  # Cross-variable validation (1.9) and provider-defined functions (1.8) are used across the
  # modules; 1.11 is what CI tests.
  required_version = ">= 1.9, < 2.0"
}
