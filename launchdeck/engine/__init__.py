"""The provider-neutral deploy engine: checks, plans, ordering, and the events it reports."""
