"""Interoperability: FHIR R4 vital-sign Observations and HL7 v2 ORU^R01 out."""
