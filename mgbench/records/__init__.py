"""Records: the typed, versioned record, its JSON Lines store, and the environment it ran in."""
