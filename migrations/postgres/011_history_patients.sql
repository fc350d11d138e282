-- The patients in whose compartment each version is, "\n" + one id per line
-- (search.PatientsOf): history and vread under a patient's scope judge each
-- version by it, so that versions from before a resource moved into the
-- patient's record (filed under another patient, then corrected) stay out.
-- Existing versions take the patients of their resource as it is now (the
-- index keeps no older ones); deletions carry none.
ALTER TABLE resource_history ADD COLUMN patients text NOT NULL DEFAULT '';

UPDATE resource_history SET patients = p.patients
FROM (WITH c(res_type, param) AS (VALUES
    ('Account', 'subject'), ('AdverseEvent', 'subject'), ('AllergyIntolerance', 'patient'),
    ('AllergyIntolerance', 'recorder'), ('AllergyIntolerance', 'asserter'), ('Appointment', 'actor'),
    ('AppointmentResponse', 'actor'), ('AuditEvent', 'patient'), ('Basic', 'patient'), ('Basic', 'author'),
    ('BodyStructure', 'patient'), ('CarePlan', 'patient'), ('CarePlan', 'performer'),
    ('CareTeam', 'patient'), ('CareTeam', 'participant'), ('ChargeItem', 'subject'), ('Claim', 'patient'),
    ('Claim', 'payee'), ('ClaimResponse', 'patient'), ('ClinicalImpression', 'subject'),
    ('Communication', 'subject'), ('Communication', 'sender'), ('Communication', 'recipient'),
    ('CommunicationRequest', 'subject'), ('CommunicationRequest', 'sender'),
    ('CommunicationRequest', 'recipient'), ('CommunicationRequest', 'requester'), ('Composition', 'subject'),
    ('Composition', 'author'), ('Composition', 'attester'), ('Condition', 'patient'),
    ('Condition', 'asserter'), ('Consent', 'patient'), ('Coverage', 'policy-holder'),
    ('Coverage', 'subscriber'), ('Coverage', 'beneficiary'), ('Coverage', 'payor'),
    ('CoverageEligibilityRequest', 'patient'), ('CoverageEligibilityResponse', 'patient'),
    ('DetectedIssue', 'patient'), ('DeviceRequest', 'subject'), ('DeviceRequest', 'performer'),
    ('DeviceUseStatement', 'subject'), ('DiagnosticReport', 'subject'), ('DocumentManifest', 'subject'),
    ('DocumentManifest', 'author'), ('DocumentManifest', 'recipient'), ('DocumentReference', 'subject'),
    ('DocumentReference', 'author'), ('Encounter', 'patient'), ('EnrollmentRequest', 'subject'),
    ('EpisodeOfCare', 'patient'), ('ExplanationOfBenefit', 'patient'), ('ExplanationOfBenefit', 'payee'),
    ('FamilyMemberHistory', 'patient'), ('Flag', 'patient'), ('Goal', 'patient'), ('Group', 'member'),
    ('ImagingStudy', 'patient'), ('Immunization', 'patient'), ('ImmunizationEvaluation', 'patient'),
    ('ImmunizationRecommendation', 'patient'), ('Invoice', 'subject'), ('Invoice', 'patient'),
    ('Invoice', 'recipient'), ('List', 'subject'), ('List', 'source'), ('MeasureReport', 'patient'),
    ('Media', 'subject'), ('MedicationAdministration', 'patient'), ('MedicationAdministration', 'performer'),
    ('MedicationAdministration', 'subject'), ('MedicationDispense', 'subject'),
    ('MedicationDispense', 'patient'), ('MedicationDispense', 'receiver'), ('MedicationRequest', 'subject'),
    ('MedicationStatement', 'subject'), ('MolecularSequence', 'patient'), ('NutritionOrder', 'patient'),
    ('Observation', 'subject'), ('Observation', 'performer'), ('Patient', 'link'), ('Person', 'patient'),
    ('Procedure', 'patient'), ('Procedure', 'performer'), ('Provenance', 'patient'),
    ('QuestionnaireResponse', 'subject'), ('QuestionnaireResponse', 'author'), ('RelatedPerson', 'patient'),
    ('RequestGroup', 'subject'), ('RequestGroup', 'participant'), ('ResearchSubject', 'individual'),
    ('RiskAssessment', 'subject'), ('Schedule', 'actor'), ('ServiceRequest', 'subject'),
    ('ServiceRequest', 'performer'), ('Specimen', 'subject'), ('SupplyDelivery', 'patient'),
    ('SupplyRequest', 'subject'), ('VisionPrescription', 'patient'))
    SELECT r.type, r.id, E'\n' || string_agg(DISTINCT x.target_id, E'\n') || E'\n' AS patients
    FROM resources r
    JOIN idx_reference x ON x.rid = r.rid AND x.target_type = 'Patient'
    JOIN c ON c.res_type = x.res_type AND c.param = x.param
    WHERE NOT r.deleted
    GROUP BY r.type, r.id) p
WHERE resource_history.type = p.type AND resource_history.id = p.id AND NOT resource_history.deleted;

-- A Patient is in its own compartment.
UPDATE resource_history SET patients = E'\n' || id || CASE WHEN patients = '' THEN E'\n' ELSE patients END
WHERE type = 'Patient' AND NOT deleted;
