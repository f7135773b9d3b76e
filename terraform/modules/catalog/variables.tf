variable "directory" {
  description = "Directory of the event catalog: one `EVENT.yaml` per event (`event-catalog/` of this repository)."
  type        = string

  validation {
    condition     = length(fileset(var.directory, "*.yaml")) > 0
    error_message = "directory must hold the event catalog: at least one EVENT.yaml file."
  }
}
