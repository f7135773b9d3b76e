//! IAM and IoT policy evaluation with AWS's logic: identity and resource policies, conditions, policy variables
