#!/usr/bin/python3
# Usage: bench/synth_ndjson.py MEMBERS OUT.ndjson  (50 resources a member)
"""Synthesises ndjson for load benchmarks: N members, each with a Patient,
a Coverage and ~48 clinical/claim resources of realistic size."""
import json, random, sys
n = int(sys.argv[1]); out = open(sys.argv[2], "w"); rnd = random.Random(1)
for m in range(n):
    pid = "m%07d" % m
    ref = {"reference": "Patient/" + pid}
    w = lambda r: out.write(json.dumps(r, separators=(",", ":")) + "\n")
    w({"resourceType": "Patient", "id": pid, "meta": {"lastUpdated": "2024-01-01T00:00:00Z"},
       "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}]},
                       "system": "http://example.org/members", "value": "MB%07d" % m}],
       "name": [{"family": "Family%d" % m, "given": ["Given", "Middle"]}], "gender": rnd.choice(["male", "female"]),
       "birthDate": "19%02d-%02d-%02d" % (rnd.randint(30, 99), rnd.randint(1, 12), rnd.randint(1, 28)),
       "address": [{"line": ["%d Main St" % m], "city": "Town", "state": "MA", "postalCode": "02100"}]})
    w({"resourceType": "Coverage", "id": "cov-" + pid, "status": "active", "subscriberId": "SUB%07d" % m,
       "identifier": [{"system": "http://example.org/coverage", "value": "C%07d" % m}],
       "beneficiary": ref, "payor": [{"reference": "Organization/payer"}], "period": {"start": "2018-01-01"}})
    for k in range(12):
        d = "20%02d-%02d-%02d" % (rnd.randint(18, 24), rnd.randint(1, 12), rnd.randint(1, 28))
        w({"resourceType": "ExplanationOfBenefit", "id": "eob-%s-%d" % (pid, k), "status": "active",
           "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
           "use": "claim", "patient": ref, "billablePeriod": {"start": d, "end": d}, "created": d + "T00:00:00Z",
           "insurer": {"reference": "Organization/payer"}, "provider": {"reference": "Organization/prov"},
           "outcome": "complete", "insurance": [{"focal": True, "coverage": {"reference": "Coverage/cov-" + pid}}],
           "item": [{"sequence": 1, "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99213"}]},
                     "servicedDate": d, "adjudication": [{"category": {"coding": [{"code": "submitted"}]}, "amount": {"value": 120.0, "currency": "USD"}},
                                                         {"category": {"coding": [{"code": "benefit"}]}, "amount": {"value": 96.0, "currency": "USD"}}]}],
           "total": [{"category": {"coding": [{"code": "submitted"}]}, "amount": {"value": 120.0, "currency": "USD"}}],
           "payment": {"amount": {"value": 96.0, "currency": "USD"}}})
    for k in range(12):
        d = "20%02d-%02d-%02dT10:00:00Z" % (rnd.randint(18, 24), rnd.randint(1, 12), rnd.randint(1, 28))
        w({"resourceType": "Encounter", "id": "enc-%s-%d" % (pid, k), "status": "finished",
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
           "subject": ref, "period": {"start": d, "end": d}})
    for k in range(18):
        d = "20%02d-%02d-%02dT10:00:00Z" % (rnd.randint(18, 24), rnd.randint(1, 12), rnd.randint(1, 28))
        w({"resourceType": "Observation", "id": "obs-%s-%d" % (pid, k), "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
           "subject": ref, "effectiveDateTime": d, "valueQuantity": {"value": rnd.randint(50, 100), "unit": "/min"}})
    for k in range(6):
        w({"resourceType": "Condition", "id": "cond-%s-%d" % (pid, k), "subject": ref,
           "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}, "recordedDate": "2021-03-04"})
