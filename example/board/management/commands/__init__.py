"""``seed_demo`` lives here."""
