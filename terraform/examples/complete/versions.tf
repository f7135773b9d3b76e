terraform {
  # The versions terraform-check and the local post office run; .terraform.lock.hcl pins the
  # provider build.
  required_version = "~> 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { "postoffice:deployment" = var.prefix }
  }
}
