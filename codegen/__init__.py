"""codegen: TypeScript types, channel classes, React hooks and the client runtime from introspection."""
