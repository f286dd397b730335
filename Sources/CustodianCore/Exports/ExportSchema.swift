/// The JSON Schema (2020-12) of a person's export, served at `/v1/public/schemas/export`. The
/// same schema is `ExportDocument` in `openapi.yaml`; a test keeps the two equal.
public enum ExportSchema {
    public static let json = #"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "urn:custodian:schema:export:custodian-export-2",
          "title": "Custodian person export",
          "type": "object",
          "description": "Everything Custodian holds on one person (GDPR Art. 15, 20). Sections hold rows as stored: column names as in the database, timestamps in RFC 3339 UTC, binary values in hex. Sections the audience's settings leave out are absent and named in left_out; a section named after a table holds that table's rows about the person (tables added by later versions appear this way).",
          "required": [
            "format_version",
            "exported_at",
            "audience",
            "controller",
            "subject",
            "sections",
            "left_out"
          ],
          "properties": {
            "format_version": {
              "type": "string",
              "const": "custodian-export-2"
            },
            "exported_at": {
              "type": "string",
              "format": "date-time"
            },
            "audience": {
              "type": "string",
              "enum": [
                "staff",
                "person"
              ]
            },
            "controller": {
              "type": "object",
              "additionalProperties": false,
              "required": [
                "name"
              ],
              "properties": {
                "name": {
                  "type": [
                    "string",
                    "null"
                  ]
                }
              }
            },
            "subject": {
              "type": "object",
              "additionalProperties": false,
              "required": [
                "kind",
                "id",
                "lead_ids",
                "contact_ids"
              ],
              "properties": {
                "kind": {
                  "type": "string",
                  "enum": [
                    "lead",
                    "contact"
                  ]
                },
                "id": {
                  "type": "string",
                  "format": "uuid"
                },
                "lead_ids": {
                  "type": "array",
                  "items": {
                    "type": "string",
                    "format": "uuid"
                  }
                },
                "contact_ids": {
                  "type": "array",
                  "items": {
                    "type": "string",
                    "format": "uuid"
                  }
                }
              },
              "description": "The person asked about, and every lead and contact record that is them (a lead and the contact it became)."
            },
            "sections": {
              "type": "array",
              "items": {
                "type": "string"
              },
              "description": "The sections this document holds, in order."
            },
            "left_out": {
              "type": "array",
              "items": {
                "type": "string"
              },
              "description": "Sections the export settings leave out for this audience."
            },
            "profile": {
              "type": [
                "object",
                "null"
              ],
              "additionalProperties": true,
              "required": [
                "id"
              ],
              "properties": {
                "id": {
                  "type": "string",
                  "format": "uuid"
                }
              },
              "description": "The lead or contact record itself."
            },
            "customer": {
              "type": [
                "object",
                "null"
              ],
              "description": "For a contact that is its customer's primary contact, the customer record."
            },
            "custom_fields": {
              "type": "array",
              "items": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "key",
                  "label",
                  "type",
                  "value"
                ],
                "properties": {
                  "key": {
                    "type": "string"
                  },
                  "label": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "type": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "value": {}
                }
              }
            },
            "notes": {
              "type": "array",
              "items": {
                "type": "object"
              }
            },
            "consents": {
              "type": "object",
              "additionalProperties": false,
              "required": [
                "state",
                "history",
                "links"
              ],
              "properties": {
                "state": {
                  "type": "array",
                  "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": [
                      "purpose_id",
                      "purpose_version",
                      "name",
                      "description",
                      "lawful_basis",
                      "state",
                      "decided_at",
                      "seq"
                    ],
                    "properties": {
                      "purpose_id": {
                        "type": "string",
                        "format": "uuid"
                      },
                      "purpose_version": {
                        "type": "integer"
                      },
                      "name": {
                        "type": "string"
                      },
                      "description": {
                        "type": "string"
                      },
                      "lawful_basis": {
                        "type": "string"
                      },
                      "state": {
                        "type": "string",
                        "enum": [
                          "given",
                          "withdrawn",
                          "objected",
                          "pending",
                          "not_asked"
                        ]
                      },
                      "decided_at": {
                        "type": "string",
                        "format": "date-time"
                      },
                      "seq": {
                        "type": "integer"
                      }
                    }
                  },
                  "description": "Per purpose: the latest decision and the purpose's text as the person saw it."
                },
                "history": {
                  "type": "array",
                  "items": {
                    "type": "object",
                    "additionalProperties": true,
                    "required": [
                      "id",
                      "seq",
                      "action",
                      "recorded_at",
                      "hash",
                      "purpose"
                    ],
                    "properties": {
                      "id": {
                        "type": "string",
                        "format": "uuid"
                      },
                      "seq": {
                        "type": "integer"
                      },
                      "action": {
                        "type": "string",
                        "enum": [
                          "give",
                          "withdraw",
                          "object",
                          "request",
                          "confirm"
                        ]
                      },
                      "recorded_at": {
                        "type": "string",
                        "format": "date-time"
                      },
                      "hash": {
                        "type": "string",
                        "pattern": "^[0-9a-f]{64}$"
                      },
                      "purpose": {
                        "type": "object",
                        "required": [
                          "name",
                          "description",
                          "lawful_basis"
                        ]
                      }
                    }
                  },
                  "description": "Every decision with channel, time, IP, user agent and the hash chain."
                },
                "links": {
                  "type": "array",
                  "items": {
                    "type": "object"
                  }
                }
              }
            },
            "requests": {
              "type": "array",
              "items": {
                "type": "object",
                "additionalProperties": true,
                "required": [
                  "id",
                  "kind",
                  "status",
                  "history"
                ],
                "properties": {
                  "id": {
                    "type": "string",
                    "format": "uuid"
                  },
                  "kind": {
                    "type": "string"
                  },
                  "status": {
                    "type": "string"
                  },
                  "history": {
                    "type": "array",
                    "items": {
                      "type": "object"
                    }
                  }
                }
              }
            },
            "converted_from": {
              "type": "array",
              "items": {
                "type": "object"
              },
              "description": "For a contact, the leads it was converted from."
            },
            "converted_to": {
              "type": [
                "object",
                "null"
              ],
              "additionalProperties": true,
              "required": [
                "contact",
                "customer_id"
              ],
              "properties": {
                "contact": {
                  "type": "object"
                },
                "customer_id": {
                  "type": "string",
                  "format": "uuid"
                }
              },
              "description": "For a converted lead, the contact it became."
            }
          },
          "additionalProperties": {
            "type": "array",
            "items": {
              "type": "object"
            }
          }
        }
        """#
}
