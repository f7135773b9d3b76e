//! Lambda functions run locally the way Lambda runs them: the Runtime API, instances on demand, Invoke and function URL semantics
