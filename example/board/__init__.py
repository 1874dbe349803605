"""Board app: a kanban board deep enough to exercise every kind of nested layer."""
