terraform {
  # Cross-variable validation (1.9) and provider-defined functions (1.8); CI tests 1.11.
  required_version = ">= 1.9, < 2.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.100 is what the modules are tested with; 6.x changes resources they use (README).
      version = ">= 5.100, < 6.0"
    }
  }
}
