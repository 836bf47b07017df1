"""Media: probing, colour, decoding/encoding helpers, test clips and picture metrics."""
