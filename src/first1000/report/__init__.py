"""What the report shows besides figures: searchable HTML views of result tables."""
