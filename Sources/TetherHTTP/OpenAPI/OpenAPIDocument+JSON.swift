// The API's description as served: edit it beside the routes (see OpenAPIDocument).
extension OpenAPIDocument {
    static let json = #"""
        {
          "openapi": "3.0.3",
          "info": {
                    "title": "Tether API",
                    "version": "1",
                    "description": "Tether's HTTP/1.1 JSON API, version 1: the controller's routes (`/v1/...`) and each host agent's routes (`/v1/agent/...`).\n\nTransport and access:\n- The controller serves the same routes on its local unix socket (`/run/tether/tetherd.sock`, for the CLI and the OCI hook; access by the caller's uid and groups via SO_PEERCRED: root, operator groups, viewer groups, or anyone when the socket's file mode is the only control) and over mutual TLS (`controller.listen`, 7400 in the samples) with certificates of the cluster CA (`tether certs`): the certificate's role (viewer, operator, agent) says what the caller may do, and an agent's certificate speaks only for the host it names.\n- The controller's optional web listener (`controller.web`) serves the same routes beside the web view: on the loopback as plain HTTP, where every caller is a viewer (reads only; agents' routes, attach and detach are 403) and a request whose Host is not the loopback is 403; elsewhere over mutual TLS, where an operator's certificate counts as a viewer's and an agent's is 403 (a browser lends its certificate to any page's requests, so nothing on this listener changes the cluster).\n- An agent serves its routes over mutual TLS only (`agent.listen`, 7401 in the samples, and an optional second listener for the cluster's hosts); only the listed certificate names (the controller's) get through. (OpenAPI 3.0 has no mutualTLS security scheme; it is described here.)\n\nEncoding: JSON with sorted keys. Times are ISO 8601 strings in UTC, `2026-12-03T13:28:06Z` or with milliseconds `2026-12-03T13:28:06.250Z`. Absent optional values are omitted, never null. Unknown properties in a request body are ignored. A request body is at most 4 MiB.\n\nErrors: every failure is `{\"error\": {\"code\", \"message\", \"cause\"?}}` (schema Error) with the HTTP status of its code: 400 invalidArgument/invalidDescriptor, 403 permissionDenied, 404 notFound, 409 busy, 422 unsupported, 500 internalError, 502 io, 503 notLeader/interrupted/noMemory, 504 timeout."
                  },
          "servers": [
                       {
                         "url": "https://{host}:{port}",
                         "description": "A controller or an agent over mutual TLS.",
                         "variables": {
                                        "host": {"default": "localhost"},
                                        "port": {"default": "7400", "description": "7400: the controller (samples); 7401: an agent."}
                                      }
                       },
                       {
                         "url": "http://127.0.0.1:{port}",
                         "description": "The controller's web listener on the loopback (`controller.web`): viewers only.",
                         "variables": {"port": {"default": "7480"}}
                       }
                     ],
          "tags": [
                    {"name": "controller", "description": "The controller's API (`/v1/...`)."},
                    {"name": "agent", "description": "A host agent's API (`/v1/agent/...`), called by the controller."}
                  ],
          "paths": {
                     "/v1/openapi.json": {
                                           "get": {
                                                    "tags": ["controller", "agent"],
                                                    "operationId": "getOpenAPI",
                                                    "summary": "The API's description: the controller's routes and the agents' in one document (served by both roles).",
                                                    "description": "No role is needed on the controller (on the loopback web listener, a request that does not name the loopback as its host is 403); an agent serves it, like its other routes, only to the certificate names it serves (403).",
                                                    "responses": {
                                                                   "200": {
                                                                            "description": "This very document.",
                                                                            "content": {
                                                                                         "application/json": {
                                                                                                               "schema": {
                                                                                                                           "type": "object"
                                                                                                                         }
                                                                                                             }
                                                                                       }
                                                                          },
                                                                   "default": {"$ref": "#/components/responses/Error"}
                                                                 }
                                                  }
                                         },
                     "/v1/agents": {
                                     "post": {
                                               "tags": ["controller"],
                                               "operationId": "registerAgent",
                                               "summary": "Register a host: what an agent tells the controller when it starts and whenever its devices or VMs change.",
                                               "description": "Caller: an agent (certificate role `agent`) speaking for its own host over TLS; on the local socket, root or any caller when the socket's file mode is the only control. Over TLS the certificate must name `host`. Answers the registration as stored. A registration whose `agentStarted` is earlier than that of the one held, while the host is heard, is refused with 409: it was sent by an earlier process of the agent and arrived late.",
                                               "requestBody": {
                                                                "required": true,
                                                                "content": {
                                                                             "application/json": {
                                                                                                   "schema": {
                                                                                                               "$ref": "#/components/schemas/AgentRegistration"
                                                                                                             }
                                                                                                 }
                                                                           }
                                                              },
                                               "responses": {
                                                              "200": {
                                                                       "description": "Registered; the registration back.",
                                                                       "content": {
                                                                                    "application/json": {
                                                                                                          "schema": {
                                                                                                                      "$ref": "#/components/schemas/AgentRegistration"
                                                                                                                    }
                                                                                                        }
                                                                                  }
                                                                     },
                                                              "400": {"$ref": "#/components/responses/BadRequest"},
                                                              "403": {"$ref": "#/components/responses/Forbidden"},
                                                              "409": {"$ref": "#/components/responses/Conflict"},
                                                              "503": {"$ref": "#/components/responses/Unavailable"},
                                                              "default": {"$ref": "#/components/responses/Error"}
                                                            }
                                             }
                                   },
                     "/v1/agents/{host}/heartbeat": {
                                                      "post": {
                                                                "tags": ["controller"],
                                                                "operationId": "heartbeat",
                                                                "summary": "An agent's heartbeat: its networks, health and device rates; answers its peers and, when it changed, the cluster view.",
                                                                "description": "Caller: an agent (certificate role `agent`) speaking for its own host over TLS; on the local socket, root or any caller when the socket's file mode is the only control. Over TLS the certificate must name `host`; a host that has not registered is 404, and so is a heartbeat whose `registered` is not the revision of the registration held (the agent registers again).",
                                                                "parameters": [
                                                                                {
                                                                                  "name": "host",
                                                                                  "in": "path",
                                                                                  "required": true,
                                                                                  "description": "The host the agent speaks for.",
                                                                                  "schema": {"type": "string", "minLength": 1}
                                                                                }
                                                                              ],
                                                                "requestBody": {
                                                                                 "required": true,
                                                                                 "content": {
                                                                                              "application/json": {
                                                                                                                    "schema": {
                                                                                                                                "$ref": "#/components/schemas/Heartbeat"
                                                                                                                              }
                                                                                                                  }
                                                                                            }
                                                                               },
                                                                "responses": {
                                                                               "200": {
                                                                                        "description": "The peers, and the view when the agent's digest is not current.",
                                                                                        "content": {
                                                                                                     "application/json": {
                                                                                                                           "schema": {
                                                                                                                                       "$ref": "#/components/schemas/HeartbeatReply"
                                                                                                                                     }
                                                                                                                         }
                                                                                                   }
                                                                                      },
                                                                               "400": {"$ref": "#/components/responses/BadRequest"},
                                                                               "403": {"$ref": "#/components/responses/Forbidden"},
                                                                               "404": {"$ref": "#/components/responses/NotFound"},
                                                                               "503": {"$ref": "#/components/responses/Unavailable"},
                                                                               "default": {"$ref": "#/components/responses/Error"}
                                                                             }
                                                              }
                                                    },
                     "/v1/agents/{host}/moves": {
                                                  "post": {
                                                            "tags": ["controller"],
                                                            "operationId": "reportMoves",
                                                            "summary": "Hand over the moves a host made on its own while it could not reach the controller; answers the ids they were journaled under.",
                                                            "description": "Caller: an agent (certificate role `agent`) speaking for its own host over TLS; on the local socket, root or any caller when the socket's file mode is the only control. Each must be a finished failover from `host` (400 / 403 otherwise); one handed over before is skipped.",
                                                            "parameters": [
                                                                            {
                                                                              "name": "host",
                                                                              "in": "path",
                                                                              "required": true,
                                                                              "description": "The host the agent speaks for.",
                                                                              "schema": {"type": "string", "minLength": 1}
                                                                            }
                                                                          ],
                                                            "requestBody": {
                                                                             "required": true,
                                                                             "content": {
                                                                                          "application/json": {
                                                                                                                "schema": {
                                                                                                                            "type": "array",
                                                                                                                            "items": {
                                                                                                                                       "$ref": "#/components/schemas/OperationRecord"
                                                                                                                                     }
                                                                                                                          }
                                                                                                              }
                                                                                        }
                                                                           },
                                                            "responses": {
                                                                           "200": {
                                                                                    "description": "The controller's operation ids for the moves adopted now.",
                                                                                    "content": {
                                                                                                 "application/json": {
                                                                                                                       "schema": {
                                                                                                                                   "type": "array",
                                                                                                                                   "items": {
                                                                                                                                              "type": "string"
                                                                                                                                            }
                                                                                                                                 }
                                                                                                                     }
                                                                                               }
                                                                                  },
                                                                           "400": {"$ref": "#/components/responses/BadRequest"},
                                                                           "403": {"$ref": "#/components/responses/Forbidden"},
                                                                           "409": {"$ref": "#/components/responses/Conflict"},
                                                                           "503": {"$ref": "#/components/responses/Unavailable"},
                                                                           "default": {"$ref": "#/components/responses/Error"}
                                                                         }
                                                          }
                                                },
                     "/v1/faults": {
                                     "post": {
                                               "tags": ["controller"],
                                               "operationId": "reportFault",
                                               "summary": "Report a host's fault (self-triggered failover): only the host itself may report it.",
                                               "description": "Caller: an agent (certificate role `agent`) speaking for its own host over TLS; on the local socket, root or any caller when the socket's file mode is the only control. The controller plans and journals one failover per affected VM. A host that has not registered is 404; a stale report of a fault that can pass is 409.",
                                               "requestBody": {
                                                                "required": true,
                                                                "content": {
                                                                             "application/json": {
                                                                                                   "schema": {
                                                                                                               "$ref": "#/components/schemas/FaultReport"
                                                                                                             }
                                                                                                 }
                                                                           }
                                                              },
                                               "responses": {
                                                              "200": {
                                                                       "description": "What was started, joined, or could not be placed.",
                                                                       "content": {
                                                                                    "application/json": {
                                                                                                          "schema": {
                                                                                                                      "$ref": "#/components/schemas/FaultReply"
                                                                                                                    }
                                                                                                        }
                                                                                  }
                                                                     },
                                                              "400": {"$ref": "#/components/responses/BadRequest"},
                                                              "403": {"$ref": "#/components/responses/Forbidden"},
                                                              "404": {"$ref": "#/components/responses/NotFound"},
                                                              "409": {"$ref": "#/components/responses/Conflict"},
                                                              "503": {"$ref": "#/components/responses/Unavailable"},
                                                              "default": {"$ref": "#/components/responses/Error"}
                                                            }
                                             }
                                   },
                     "/v1/attachments": {
                                          "post": {
                                                    "tags": ["controller"],
                                                    "operationId": "attach",
                                                    "summary": "Give a container's VM a device: decide, and unless it is a dry run or a rejection, journal the attach and start it.",
                                                    "description": "Caller: an operator; for a dry run a viewer or an operator (local root may call everything). 200 when no operation started (dry run, rejection, already attached), 202 with the operation when one did.",
                                                    "requestBody": {
                                                                     "required": true,
                                                                     "content": {
                                                                                  "application/json": {
                                                                                                        "schema": {
                                                                                                                    "$ref": "#/components/schemas/AttachRequest"
                                                                                                                  }
                                                                                                      }
                                                                                }
                                                                   },
                                                    "responses": {
                                                                   "200": {
                                                                            "description": "Decided; no operation started (dry run, rejection, or already attached).",
                                                                            "content": {
                                                                                         "application/json": {
                                                                                                               "schema": {
                                                                                                                           "$ref": "#/components/schemas/AttachResponse"
                                                                                                                         }
                                                                                                             }
                                                                                       }
                                                                          },
                                                                   "202": {
                                                                            "description": "Decided; the operation started (`operation` is present).",
                                                                            "content": {
                                                                                         "application/json": {
                                                                                                               "schema": {
                                                                                                                           "$ref": "#/components/schemas/AttachResponse"
                                                                                                                         }
                                                                                                             }
                                                                                       }
                                                                          },
                                                                   "400": {"$ref": "#/components/responses/BadRequest"},
                                                                   "403": {"$ref": "#/components/responses/Forbidden"},
                                                                   "404": {"$ref": "#/components/responses/NotFound"},
                                                                   "409": {"$ref": "#/components/responses/Conflict"},
                                                                   "503": {"$ref": "#/components/responses/Unavailable"},
                                                                   "default": {"$ref": "#/components/responses/Error"}
                                                                 }
                                                  }
                                        },
                     "/v1/detachments": {
                                          "post": {
                                                    "tags": ["controller"],
                                                    "operationId": "detach",
                                                    "summary": "Take a device, or all of a container's devices, back from its VM: one detach operation each.",
                                                    "description": "Caller: an operator; local root may call everything. A container with no matching attachment is 404.",
                                                    "requestBody": {
                                                                     "required": true,
                                                                     "content": {
                                                                                  "application/json": {
                                                                                                        "schema": {
                                                                                                                    "$ref": "#/components/schemas/DetachRequest"
                                                                                                                  }
                                                                                                      }
                                                                                }
                                                                   },
                                                    "responses": {
                                                                   "202": {
                                                                            "description": "The detach operations started.",
                                                                            "content": {
                                                                                         "application/json": {
                                                                                                               "schema": {
                                                                                                                           "$ref": "#/components/schemas/DetachReply"
                                                                                                                         }
                                                                                                             }
                                                                                       }
                                                                          },
                                                                   "400": {"$ref": "#/components/responses/BadRequest"},
                                                                   "403": {"$ref": "#/components/responses/Forbidden"},
                                                                   "404": {"$ref": "#/components/responses/NotFound"},
                                                                   "409": {"$ref": "#/components/responses/Conflict"},
                                                                   "503": {"$ref": "#/components/responses/Unavailable"},
                                                                   "default": {"$ref": "#/components/responses/Error"}
                                                                 }
                                                  }
                                        },
                     "/v1/operations": {
                                         "get": {
                                                  "tags": ["controller"],
                                                  "operationId": "listOperations",
                                                  "summary": "The journal's latest operations, newest first (finished or not).",
                                                  "description": "Caller: a viewer or an operator (certificate role, or local groups); local root may call everything. Read from the store, so a standby answers too.",
                                                  "parameters": [
                                                                  {
                                                                    "name": "limit",
                                                                    "in": "query",
                                                                    "required": false,
                                                                    "description": "How many, 1 to 500. Absent: 20. Another value is 400.",
                                                                    "schema": {
                                                                                "type": "integer",
                                                                                "format": "int64",
                                                                                "minimum": 1,
                                                                                "maximum": 500,
                                                                                "default": 20
                                                                              }
                                                                  }
                                                                ],
                                                  "responses": {
                                                                 "200": {
                                                                          "description": "The operations, newest first.",
                                                                          "content": {
                                                                                       "application/json": {
                                                                                                             "schema": {
                                                                                                                         "type": "array",
                                                                                                                         "items": {
                                                                                                                                    "$ref": "#/components/schemas/OperationRecord"
                                                                                                                                  }
                                                                                                                       }
                                                                                                           }
                                                                                     }
                                                                        },
                                                                 "400": {"$ref": "#/components/responses/BadRequest"},
                                                                 "403": {"$ref": "#/components/responses/Forbidden"},
                                                                 "502": {"$ref": "#/components/responses/BadGateway"},
                                                                 "default": {"$ref": "#/components/responses/Error"}
                                                               }
                                                }
                                       },
                     "/v1/operations/{id}": {
                                              "get": {
                                                       "tags": ["controller"],
                                                       "operationId": "getOperation",
                                                       "summary": "One journaled operation with its steps and, while it migrates, its progress.",
                                                       "description": "Caller: a viewer or an operator (certificate role, or local groups); local root may call everything. Long polling: with `wait`, the answer comes once the operation has more than `after` steps or has finished, or when `wait` seconds have passed.",
                                                       "parameters": [
                                                                       {
                                                                         "name": "id",
                                                                         "in": "path",
                                                                         "required": true,
                                                                         "description": "The operation id (`op-N`).",
                                                                         "schema": {"type": "string", "minLength": 1}
                                                                       },
                                                                       {
                                                                         "name": "after",
                                                                         "in": "query",
                                                                         "required": false,
                                                                         "description": "The number of steps the caller has seen. Absent: 0.",
                                                                         "schema": {"type": "integer", "format": "int64", "minimum": 0}
                                                                       },
                                                                       {
                                                                         "name": "wait",
                                                                         "in": "query",
                                                                         "required": false,
                                                                         "description": "Seconds to wait for a step after `after` or the operation's end, 0 to 30. Absent: 0 (answer at once).",
                                                                         "schema": {"type": "number", "minimum": 0, "maximum": 30}
                                                                       }
                                                                     ],
                                                       "responses": {
                                                                      "200": {
                                                                               "description": "The operation.",
                                                                               "content": {
                                                                                            "application/json": {
                                                                                                                  "schema": {
                                                                                                                              "$ref": "#/components/schemas/OperationRecord"
                                                                                                                            }
                                                                                                                }
                                                                                          }
                                                                             },
                                                                      "403": {"$ref": "#/components/responses/Forbidden"},
                                                                      "404": {"$ref": "#/components/responses/NotFound"},
                                                                      "502": {"$ref": "#/components/responses/BadGateway"},
                                                                      "503": {"$ref": "#/components/responses/Unavailable"},
                                                                      "default": {"$ref": "#/components/responses/Error"}
                                                                    }
                                                     }
                                            },
                     "/v1/status": {
                                     "get": {
                                              "tags": ["controller"],
                                              "operationId": "getStatus",
                                              "summary": "The cluster as the controller sees it now: hosts, VMs, attachments, unfinished operations, controllers, devices.",
                                              "description": "Caller: a viewer or an operator (certificate role, or local groups); local root may call everything. A standby answers too: the store's attachments and unfinished operations, no hosts.",
                                              "responses": {
                                                             "200": {
                                                                      "description": "The cluster's status.",
                                                                      "content": {
                                                                                   "application/json": {
                                                                                                         "schema": {
                                                                                                                     "$ref": "#/components/schemas/ClusterStatus"
                                                                                                                   }
                                                                                                       }
                                                                                 }
                                                                    },
                                                             "403": {"$ref": "#/components/responses/Forbidden"},
                                                             "502": {"$ref": "#/components/responses/BadGateway"},
                                                             "default": {"$ref": "#/components/responses/Error"}
                                                           }
                                            }
                                   },
                     "/v1/events": {
                                     "get": {
                                              "tags": ["controller"],
                                              "operationId": "getEvents",
                                              "summary": "Long polling: the events after the last sequence seen, waiting up to `wait` seconds (at most 30) for the next.",
                                              "description": "Caller: a viewer or an operator (certificate role, or local groups); local root may call everything. `tether events --follow` asks again with `next`. A bad `after` or `wait` is 400.",
                                              "parameters": [
                                                              {
                                                                "name": "after",
                                                                "in": "query",
                                                                "required": false,
                                                                "description": "The last sequence seen: events after it are returned. Absent: 0 (from the first).",
                                                                "schema": {"type": "integer", "format": "int64", "minimum": 0}
                                                              },
                                                              {
                                                                "name": "wait",
                                                                "in": "query",
                                                                "required": false,
                                                                "description": "Seconds to wait for an event when there is none yet, 0 to 30. Absent: 0 (answer at once).",
                                                                "schema": {"type": "number", "minimum": 0, "maximum": 30}
                                                              }
                                                            ],
                                              "responses": {
                                                             "200": {
                                                                      "description": "The events (possibly none) and the sequence to ask after next.",
                                                                      "content": {
                                                                                   "application/json": {
                                                                                                         "schema": {
                                                                                                                     "$ref": "#/components/schemas/EventPage"
                                                                                                                   }
                                                                                                       }
                                                                                 }
                                                                    },
                                                             "400": {"$ref": "#/components/responses/BadRequest"},
                                                             "403": {"$ref": "#/components/responses/Forbidden"},
                                                             "503": {"$ref": "#/components/responses/Unavailable"},
                                                             "default": {"$ref": "#/components/responses/Error"}
                                                           }
                                            }
                                   },
                     "/v1/events/stream": {
                                            "get": {
                                                     "tags": ["controller"],
                                                     "operationId": "streamEvents",
                                                     "summary": "The same events as server-sent events, for browsers (the web view) and `curl -N`: those after the resume point, then each new one as it happens.",
                                                     "description": "Caller: a viewer or an operator (certificate role, or local groups); local root may call everything. The stream opens with `retry: 2000`; each event is `id: EPOCH-SEQUENCE` (EPOCH names this controller's numbering: a new leader numbers from 1 again, and a stream resumed with another epoch's id starts from this controller's first event) and `data:` one ClusterEvent as JSON (see ClusterEvent); a quiet stream gets a comment (`: still here`) every 15 s. It never ends by itself: it ends only when the client closes it, or when this controller stops leading or shuts down (an EventSource then reconnects with `Last-Event-ID`). A standby answers 503 (JSON, naming the leader) before the first byte; a bad resume point is 400; past 256 open streams a new one is 409 (busy).",
                                                     "parameters": [
                                                                     {
                                                                       "name": "after",
                                                                       "in": "query",
                                                                       "required": false,
                                                                       "description": "The last event seen: its id as the stream gave it (`EPOCH-SEQUENCE`) or its sequence; events after it are returned. Absent: 0 (from the first).",
                                                                       "schema": {"type": "string", "pattern": "^([0-9a-z]{1,13}-)?[0-9]{1,18}$"}
                                                                     },
                                                                     {
                                                                       "name": "Last-Event-ID",
                                                                       "in": "header",
                                                                       "required": false,
                                                                       "description": "Sent by a reconnecting EventSource: the id of the last event it received (`EPOCH-SEQUENCE`, or a bare sequence). Takes precedence over `after`.",
                                                                       "schema": {"type": "string", "pattern": "^([0-9a-z]{1,13}-)?[0-9]{1,18}$"}
                                                                     }
                                                                   ],
                                                     "responses": {
                                                                    "200": {
                                                                             "description": "An endless text/event-stream (`Cache-Control: no-store`).",
                                                                             "content": {
                                                                                          "text/event-stream": {
                                                                                                                 "schema": {
                                                                                                                             "type": "string"
                                                                                                                           }
                                                                                                               }
                                                                                        }
                                                                           },
                                                                    "400": {"$ref": "#/components/responses/BadRequest"},
                                                                    "403": {"$ref": "#/components/responses/Forbidden"},
                                                                    "409": {"$ref": "#/components/responses/Conflict"},
                                                                    "503": {"$ref": "#/components/responses/Unavailable"},
                                                                    "default": {"$ref": "#/components/responses/Error"}
                                                                  }
                                                   }
                                          },
                     "/v1/agent/registration": {
                                                 "get": {
                                                          "tags": ["agent"],
                                                          "operationId": "getRegistration",
                                                          "summary": "The host as the controller should see it now.",
                                                          "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                          "responses": {
                                                                         "200": {
                                                                                  "description": "The host's registration.",
                                                                                  "content": {
                                                                                               "application/json": {
                                                                                                                     "schema": {
                                                                                                                                 "$ref": "#/components/schemas/AgentRegistration"
                                                                                                                               }
                                                                                                                   }
                                                                                             }
                                                                                },
                                                                         "403": {"$ref": "#/components/responses/Forbidden"},
                                                                         "default": {"$ref": "#/components/responses/Error"}
                                                                       }
                                                        }
                                               },
                     "/v1/agent/vms/{name}": {
                                               "get": {
                                                        "tags": ["agent"],
                                                        "operationId": "getVM",
                                                        "summary": "A VM's state on this host; 404 when the host does not run it.",
                                                        "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                        "parameters": [
                                                                        {
                                                                          "name": "name",
                                                                          "in": "path",
                                                                          "required": true,
                                                                          "description": "The VM's name.",
                                                                          "schema": {"type": "string", "minLength": 1}
                                                                        }
                                                                      ],
                                                        "responses": {
                                                                       "200": {
                                                                                "description": "The VM's state.",
                                                                                "content": {
                                                                                             "application/json": {
                                                                                                                   "schema": {
                                                                                                                               "$ref": "#/components/schemas/AgentVMState"
                                                                                                                             }
                                                                                                                 }
                                                                                           }
                                                                              },
                                                                       "403": {"$ref": "#/components/responses/Forbidden"},
                                                                       "404": {"$ref": "#/components/responses/NotFound"},
                                                                       "502": {"$ref": "#/components/responses/BadGateway"},
                                                                       "default": {"$ref": "#/components/responses/Error"}
                                                                     }
                                                      }
                                             },
                     "/v1/agent/incoming": {
                                             "post": {
                                                       "tags": ["agent"],
                                                       "operationId": "prepareIncoming",
                                                       "summary": "Start a VM waiting for a migration; answers where to send its state.",
                                                       "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                       "requestBody": {
                                                                        "required": true,
                                                                        "content": {
                                                                                     "application/json": {
                                                                                                           "schema": {
                                                                                                                       "$ref": "#/components/schemas/IncomingRequest"
                                                                                                                     }
                                                                                                         }
                                                                                   }
                                                                      },
                                                       "responses": {
                                                                      "200": {
                                                                               "description": "Where the target listens for the state.",
                                                                               "content": {
                                                                                            "application/json": {
                                                                                                                  "schema": {
                                                                                                                              "$ref": "#/components/schemas/AddressReply"
                                                                                                                            }
                                                                                                                }
                                                                                          }
                                                                             },
                                                                      "400": {"$ref": "#/components/responses/BadRequest"},
                                                                      "403": {"$ref": "#/components/responses/Forbidden"},
                                                                      "404": {"$ref": "#/components/responses/NotFound"},
                                                                      "409": {"$ref": "#/components/responses/Conflict"},
                                                                      "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                      "502": {"$ref": "#/components/responses/BadGateway"},
                                                                      "default": {"$ref": "#/components/responses/Error"}
                                                                    }
                                                     }
                                           },
                     "/v1/agent/migrations": {
                                               "post": {
                                                         "tags": ["agent"],
                                                         "operationId": "startMigration",
                                                         "summary": "Live-migrate a local VM to a readied target (`target` waits at `to`).",
                                                         "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                         "requestBody": {
                                                                          "required": true,
                                                                          "content": {
                                                                                       "application/json": {
                                                                                                             "schema": {
                                                                                                                         "$ref": "#/components/schemas/MigrateRequest"
                                                                                                                       }
                                                                                                           }
                                                                                     }
                                                                        },
                                                         "responses": {
                                                                        "202": {
                                                                                 "description": "Started (or already under way); no body. Follow it with `GET /v1/agent/vms/{name}`."
                                                                               },
                                                                        "400": {"$ref": "#/components/responses/BadRequest"},
                                                                        "403": {"$ref": "#/components/responses/Forbidden"},
                                                                        "404": {"$ref": "#/components/responses/NotFound"},
                                                                        "409": {"$ref": "#/components/responses/Conflict"},
                                                                        "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                        "502": {"$ref": "#/components/responses/BadGateway"},
                                                                        "default": {"$ref": "#/components/responses/Error"}
                                                                      }
                                                       }
                                             },
                     "/v1/agent/vms/release": {
                                                "post": {
                                                          "tags": ["agent"],
                                                          "operationId": "releaseVM",
                                                          "summary": "Quit a copy whose state went to another host (postmigrate): never one that runs.",
                                                          "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                          "requestBody": {
                                                                           "required": true,
                                                                           "content": {
                                                                                        "application/json": {
                                                                                                              "schema": {
                                                                                                                          "$ref": "#/components/schemas/VMRequest"
                                                                                                                        }
                                                                                                            }
                                                                                      }
                                                                         },
                                                          "responses": {
                                                                         "204": {"description": "Released (or not here)."},
                                                                         "400": {"$ref": "#/components/responses/BadRequest"},
                                                                         "403": {"$ref": "#/components/responses/Forbidden"},
                                                                         "404": {"$ref": "#/components/responses/NotFound"},
                                                                         "409": {"$ref": "#/components/responses/Conflict"},
                                                                         "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                         "502": {"$ref": "#/components/responses/BadGateway"},
                                                                         "default": {"$ref": "#/components/responses/Error"}
                                                                       }
                                                        }
                                              },
                     "/v1/agent/vms/abandon": {
                                                "post": {
                                                          "tags": ["agent"],
                                                          "operationId": "abandonIncoming",
                                                          "summary": "Quit a VM that waits for a migration (inmigrate): the undo of prepareIncoming.",
                                                          "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                          "requestBody": {
                                                                           "required": true,
                                                                           "content": {
                                                                                        "application/json": {
                                                                                                              "schema": {
                                                                                                                          "$ref": "#/components/schemas/VMRequest"
                                                                                                                        }
                                                                                                            }
                                                                                      }
                                                                         },
                                                          "responses": {
                                                                         "204": {"description": "Abandoned (or not here)."},
                                                                         "400": {"$ref": "#/components/responses/BadRequest"},
                                                                         "403": {"$ref": "#/components/responses/Forbidden"},
                                                                         "404": {"$ref": "#/components/responses/NotFound"},
                                                                         "409": {"$ref": "#/components/responses/Conflict"},
                                                                         "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                         "502": {"$ref": "#/components/responses/BadGateway"},
                                                                         "default": {"$ref": "#/components/responses/Error"}
                                                                       }
                                                        }
                                              },
                     "/v1/agent/evacuations": {
                                                "post": {
                                                          "tags": ["agent"],
                                                          "operationId": "evacuate",
                                                          "summary": "A failover's move of a local VM: its disk off an unreachable datastore if asked, then its state to `to`.",
                                                          "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                          "requestBody": {
                                                                           "required": true,
                                                                           "content": {
                                                                                        "application/json": {
                                                                                                              "schema": {
                                                                                                                          "$ref": "#/components/schemas/EvacuateRequest"
                                                                                                                        }
                                                                                                            }
                                                                                      }
                                                                         },
                                                          "responses": {
                                                                         "202": {"description": "Started; no body."},
                                                                         "400": {"$ref": "#/components/responses/BadRequest"},
                                                                         "403": {"$ref": "#/components/responses/Forbidden"},
                                                                         "404": {"$ref": "#/components/responses/NotFound"},
                                                                         "409": {"$ref": "#/components/responses/Conflict"},
                                                                         "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                         "502": {"$ref": "#/components/responses/BadGateway"},
                                                                         "default": {"$ref": "#/components/responses/Error"}
                                                                       }
                                                        }
                                              },
                     "/v1/agent/vms/resume": {
                                               "post": {
                                                         "tags": ["agent"],
                                                         "operationId": "resumeVM",
                                                         "summary": "Run a VM that arrived paused or with failed requests held; answers its state after.",
                                                         "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                         "requestBody": {
                                                                          "required": true,
                                                                          "content": {
                                                                                       "application/json": {
                                                                                                             "schema": {
                                                                                                                         "$ref": "#/components/schemas/VMRequest"
                                                                                                                       }
                                                                                                           }
                                                                                     }
                                                                        },
                                                         "responses": {
                                                                        "200": {
                                                                                 "description": "The VM's state after.",
                                                                                 "content": {
                                                                                              "application/json": {
                                                                                                                    "schema": {
                                                                                                                                "$ref": "#/components/schemas/AgentVMState"
                                                                                                                              }
                                                                                                                  }
                                                                                            }
                                                                               },
                                                                        "400": {"$ref": "#/components/responses/BadRequest"},
                                                                        "403": {"$ref": "#/components/responses/Forbidden"},
                                                                        "404": {"$ref": "#/components/responses/NotFound"},
                                                                        "409": {"$ref": "#/components/responses/Conflict"},
                                                                        "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                        "502": {"$ref": "#/components/responses/BadGateway"},
                                                                        "default": {"$ref": "#/components/responses/Error"}
                                                                      }
                                                       }
                                             },
                     "/v1/agent/vms/crash": {
                                              "post": {
                                                        "tags": ["agent"],
                                                        "operationId": "collectCrash",
                                                        "summary": "Copy a crashed guest's crash files off its disk (QEMU's memory dump where it wrote none).",
                                                        "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                        "requestBody": {
                                                                         "required": true,
                                                                         "content": {
                                                                                      "application/json": {
                                                                                                            "schema": {
                                                                                                                        "$ref": "#/components/schemas/VMRequest"
                                                                                                                      }
                                                                                                          }
                                                                                    }
                                                                       },
                                                        "responses": {
                                                                       "200": {
                                                                                "description": "What was collected.",
                                                                                "content": {
                                                                                             "application/json": {
                                                                                                                   "schema": {
                                                                                                                               "$ref": "#/components/schemas/CrashCollection"
                                                                                                                             }
                                                                                                                 }
                                                                                           }
                                                                              },
                                                                       "400": {"$ref": "#/components/responses/BadRequest"},
                                                                       "403": {"$ref": "#/components/responses/Forbidden"},
                                                                       "404": {"$ref": "#/components/responses/NotFound"},
                                                                       "409": {"$ref": "#/components/responses/Conflict"},
                                                                       "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                       "502": {"$ref": "#/components/responses/BadGateway"},
                                                                       "default": {"$ref": "#/components/responses/Error"}
                                                                     }
                                                      }
                                            },
                     "/v1/agent/vms/restart": {
                                                "post": {
                                                          "tags": ["agent"],
                                                          "operationId": "restartVM",
                                                          "summary": "Start a crashed guest again from its disk (a reset), on this host.",
                                                          "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                          "requestBody": {
                                                                           "required": true,
                                                                           "content": {
                                                                                        "application/json": {
                                                                                                              "schema": {
                                                                                                                          "$ref": "#/components/schemas/VMRequest"
                                                                                                                        }
                                                                                                            }
                                                                                      }
                                                                         },
                                                          "responses": {
                                                                         "200": {
                                                                                  "description": "The VM's state after.",
                                                                                  "content": {
                                                                                               "application/json": {
                                                                                                                     "schema": {
                                                                                                                                 "$ref": "#/components/schemas/AgentVMState"
                                                                                                                               }
                                                                                                                   }
                                                                                             }
                                                                                },
                                                                         "400": {"$ref": "#/components/responses/BadRequest"},
                                                                         "403": {"$ref": "#/components/responses/Forbidden"},
                                                                         "404": {"$ref": "#/components/responses/NotFound"},
                                                                         "409": {"$ref": "#/components/responses/Conflict"},
                                                                         "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                         "502": {"$ref": "#/components/responses/BadGateway"},
                                                                         "default": {"$ref": "#/components/responses/Error"}
                                                                       }
                                                        }
                                              },
                     "/v1/agent/vms/start": {
                                              "post": {
                                                        "tags": ["agent"],
                                                        "operationId": "startVMFromDisk",
                                                        "summary": "Start a VM from its disk on this host, as `launch` says (its own host is gone).",
                                                        "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                        "requestBody": {
                                                                         "required": true,
                                                                         "content": {
                                                                                      "application/json": {
                                                                                                            "schema": {
                                                                                                                        "$ref": "#/components/schemas/RegisteredVM"
                                                                                                                      }
                                                                                                          }
                                                                                    }
                                                                       },
                                                        "responses": {
                                                                       "200": {
                                                                                "description": "The VM's state (asked again: the copy started the first time).",
                                                                                "content": {
                                                                                             "application/json": {
                                                                                                                   "schema": {
                                                                                                                               "$ref": "#/components/schemas/AgentVMState"
                                                                                                                             }
                                                                                                                 }
                                                                                           }
                                                                              },
                                                                       "400": {"$ref": "#/components/responses/BadRequest"},
                                                                       "403": {"$ref": "#/components/responses/Forbidden"},
                                                                       "404": {"$ref": "#/components/responses/NotFound"},
                                                                       "409": {"$ref": "#/components/responses/Conflict"},
                                                                       "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                       "502": {"$ref": "#/components/responses/BadGateway"},
                                                                       "default": {"$ref": "#/components/responses/Error"}
                                                                     }
                                                      }
                                            },
                     "/v1/agent/exports": {
                                            "post": {
                                                      "tags": ["agent"],
                                                      "operationId": "exportDevice",
                                                      "summary": "Export a local device for one attachment (behind a mutual-TLS relay unless `local`).",
                                                      "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                      "requestBody": {
                                                                       "required": true,
                                                                       "content": {
                                                                                    "application/json": {
                                                                                                          "schema": {
                                                                                                                      "$ref": "#/components/schemas/ExportRequest"
                                                                                                                    }
                                                                                                        }
                                                                                  }
                                                                     },
                                                      "responses": {
                                                                     "200": {
                                                                              "description": "Where the device is exported.",
                                                                              "content": {
                                                                                           "application/json": {
                                                                                                                 "schema": {
                                                                                                                             "$ref": "#/components/schemas/AddressReply"
                                                                                                                           }
                                                                                                               }
                                                                                         }
                                                                            },
                                                                     "400": {"$ref": "#/components/responses/BadRequest"},
                                                                     "403": {"$ref": "#/components/responses/Forbidden"},
                                                                     "404": {"$ref": "#/components/responses/NotFound"},
                                                                     "409": {"$ref": "#/components/responses/Conflict"},
                                                                     "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                     "502": {"$ref": "#/components/responses/BadGateway"},
                                                                     "default": {"$ref": "#/components/responses/Error"}
                                                                   }
                                                    }
                                          },
                     "/v1/agent/exports/stop": {
                                                 "post": {
                                                           "tags": ["agent"],
                                                           "operationId": "stopExport",
                                                           "summary": "Stop a session's export.",
                                                           "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                           "requestBody": {
                                                                            "required": true,
                                                                            "content": {
                                                                                         "application/json": {
                                                                                                               "schema": {
                                                                                                                           "$ref": "#/components/schemas/SessionRequest"
                                                                                                                         }
                                                                                                             }
                                                                                       }
                                                                          },
                                                           "responses": {
                                                                          "204": {"description": "Stopped (or there was none)."},
                                                                          "400": {"$ref": "#/components/responses/BadRequest"},
                                                                          "403": {"$ref": "#/components/responses/Forbidden"},
                                                                          "default": {"$ref": "#/components/responses/Error"}
                                                                        }
                                                         }
                                               },
                     "/v1/agent/channels": {
                                             "post": {
                                                       "tags": ["agent"],
                                                       "operationId": "openChannel",
                                                       "summary": "Give a local VM the device exported at `from` (a relay end and a usb-redir device).",
                                                       "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                       "requestBody": {
                                                                        "required": true,
                                                                        "content": {
                                                                                     "application/json": {
                                                                                                           "schema": {
                                                                                                                       "$ref": "#/components/schemas/ChannelRequest"
                                                                                                                     }
                                                                                                         }
                                                                                   }
                                                                      },
                                                       "responses": {
                                                                      "204": {"description": "Open."},
                                                                      "400": {"$ref": "#/components/responses/BadRequest"},
                                                                      "403": {"$ref": "#/components/responses/Forbidden"},
                                                                      "404": {"$ref": "#/components/responses/NotFound"},
                                                                      "409": {"$ref": "#/components/responses/Conflict"},
                                                                      "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                      "502": {"$ref": "#/components/responses/BadGateway"},
                                                                      "default": {"$ref": "#/components/responses/Error"}
                                                                    }
                                                     }
                                           },
                     "/v1/agent/channels/stop": {
                                                  "post": {
                                                            "tags": ["agent"],
                                                            "operationId": "closeChannel",
                                                            "summary": "Close a session's channel end (and its usb-redir device in the VM).",
                                                            "description": "Caller: over TLS, only the listed certificate names (the controller's; on the peer listener, the cluster's hosts); 403 otherwise.",
                                                            "requestBody": {
                                                                             "required": true,
                                                                             "content": {
                                                                                          "application/json": {
                                                                                                                "schema": {
                                                                                                                            "$ref": "#/components/schemas/SessionRequest"
                                                                                                                          }
                                                                                                              }
                                                                                        }
                                                                           },
                                                            "responses": {
                                                                           "204": {"description": "Closed (or there was none)."},
                                                                           "400": {"$ref": "#/components/responses/BadRequest"},
                                                                           "403": {"$ref": "#/components/responses/Forbidden"},
                                                                           "404": {"$ref": "#/components/responses/NotFound"},
                                                                           "409": {"$ref": "#/components/responses/Conflict"},
                                                                           "422": {"$ref": "#/components/responses/Unprocessable"},
                                                                           "502": {"$ref": "#/components/responses/BadGateway"},
                                                                           "default": {"$ref": "#/components/responses/Error"}
                                                                         }
                                                          }
                                                }
                   },
          "components": {
                          "schemas": {
                                       "Error": {
                                                  "type": "object",
                                                  "description": "APIErrorBody: the body of every API error. The HTTP status follows the code (TetherError.Code.httpStatus): invalidArgument and invalidDescriptor 400, permissionDenied 403, notFound 404, busy 409, unsupported 422, internalError 500, io 502, interrupted, noMemory and notLeader 503, timeout 504. Hummingbird's own errors (no such route, a method a path does not take) keep their status and are mapped to a code (404 notFound, 401/403 permissionDenied, 408/504 timeout, other 4xx invalidArgument, else internalError).",
                                                  "required": ["error"],
                                                  "properties": {"error": {"$ref": "#/components/schemas/APIErrorBody.Detail"}}
                                                },
                                       "APIErrorBody.Detail": {
                                                                "type": "object",
                                                                "required": ["code", "message"],
                                                                "properties": {
                                                                                "code": {
                                                                                          "$ref": "#/components/schemas/TetherError.Code"
                                                                                        },
                                                                                "message": {
                                                                                             "type": "string",
                                                                                             "description": "What failed, in words a person can act on."
                                                                                           },
                                                                                "cause": {
                                                                                           "type": "string",
                                                                                           "description": "What a lower layer said (an errno, a QMP error), verbatim."
                                                                                         }
                                                                              }
                                                              },
                                       "TetherError.Code": {
                                                             "type": "string",
                                                             "enum": [
                                                                       "invalidArgument",
                                                                       "invalidDescriptor",
                                                                       "notFound",
                                                                       "permissionDenied",
                                                                       "busy",
                                                                       "timeout",
                                                                       "unsupported",
                                                                       "noMemory",
                                                                       "interrupted",
                                                                       "io",
                                                                       "internalError",
                                                                       "notLeader"
                                                                     ],
                                                             "description": "What kind of failure this is; stable (scripts switch on it)."
                                                           },
                                       "HostPort": {
                                                     "type": "string",
                                                     "pattern": "^(\\[\\].+|\\[[^\\]].*|\\[|[^\\[].*):(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$",
                                                     "example": "10.0.0.2:7401",
                                                     "description": "`HOST:PORT`, `[v6]:PORT` for an IPv6 host (encoded with brackets whenever the host contains ':'). The port is 0 to 65535 (0: any free port, where one listens)."
                                                   },
                                       "DeviceRef": {
                                                      "type": "string",
                                                      "pattern": "^[^/]+/[^/]+$",
                                                      "example": "host-b/1-3",
                                                      "description": "A device named across the cluster: `HOST/ID` (ID is the bus-port path, `1-3`)."
                                                    },
                                       "DeviceSelector": {
                                                           "type": "string",
                                                           "pattern": "^([^/]+/[^/]+|[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}(:[^/]+)?)$",
                                                           "example": "046d:0825",
                                                           "description": "How a request names a device: `VID:PID` (any matching device), `VID:PID:SERIAL` (that one device), or `HOST/PORT` (whatever is plugged into that port of that host). VID and PID are four hex digits (encoded lowercased)."
                                                         },
                                       "DeviceIdentity": {
                                                           "type": "string",
                                                           "example": "046d:0825:A1B2",
                                                           "description": "What a device is, as DeviceSelector encodes it: `VID:PID` or `VID:PID:SERIAL`, built from the registered vendorId, productId (lowercased) and serial. Not constrained here because the server builds it from whatever the agent registered; the decoder (a moves hand-over that carries it) parses it as a DeviceSelector and refuses (400) one that does not match `^([^/]+/[^/]+|[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}(:[^/]+)?)$`."
                                                         },
                                       "VMRunState": {
                                                       "type": "string",
                                                       "example": "running",
                                                       "description": "A VM's run state, QEMU's `query-status` word. Known: running, paused, prelaunch, inmigrate, postmigrate, finish-migrate, guest-panicked, shutdown, internal-error, io-error, suspended, watchdog, restore-vm, save-vm, and unreachable (the agent could not ask QEMU). A word this version does not know is kept as it came, not refused: any string decodes."
                                                     },
                                       "MigrationStatus": {
                                                            "type": "string",
                                                            "example": "active",
                                                            "description": "A live migration's status, QEMU's `query-migrate` word. Known: none, setup, active, pre-switchover, device, completed, failed, cancelling, cancelled, and error (the agent could not start it). A word this version does not know is kept as it came, not refused: any string decodes."
                                                          },
                                       "NetworkRole": {
                                                        "type": "string",
                                                        "enum": ["management", "migration", "vm", "storage"],
                                                        "description": "The four networks a host has, by role."
                                                      },
                                       "HealthState": {
                                                        "type": "string",
                                                        "enum": ["up", "partial", "down", "unknown"],
                                                        "description": "A network or IO path's state: `up`, `partial` (only some peers answer), `down`, or `unknown` (nothing measured yet)."
                                                      },
                                       "PeerState": {
                                                      "type": "string",
                                                      "enum": ["alive", "suspect", "dead"],
                                                      "description": "What one host's failure detector says about a peer on one network."
                                                    },
                                       "HostVerdict": {
                                                        "type": "string",
                                                        "enum": [
                                                                  "healthy",
                                                                  "degraded",
                                                                  "storage-lost",
                                                                  "management-lost",
                                                                  "agent-down",
                                                                  "silent",
                                                                  "dead"
                                                                ],
                                                        "description": "What the controller concludes about a host."
                                                      },
                                       "FaultKind": {
                                                      "type": "string",
                                                      "enum": ["host", "storage", "management", "migration-vm", "io-paths", "crash"],
                                                      "description": "A fault of shared/spec/ha.md's table."
                                                    },
                                       "FailoverTrigger": {
                                                            "type": "string",
                                                            "enum": ["self", "external"],
                                                            "description": "Who saw the fault first: the host's own agent (`self`) or the controller."
                                                          },
                                       "MoveMode": {
                                                     "type": "string",
                                                     "enum": ["live", "suspend-resume", "restart"],
                                                     "description": "How a VM gets to its new host."
                                                   },
                                       "IsolationResponse": {
                                                              "type": "string",
                                                              "enum": ["pause", "power-off", "none"],
                                                              "description": "What a host does with its VMs when it finds itself isolated."
                                                            },
                                       "BulkFigureSource": {
                                                             "type": "string",
                                                             "enum": ["observed", "profile", "descriptors"],
                                                             "description": "Where a device's bulk figure comes from."
                                                           },
                                       "NetworkLink": {
                                                        "type": "object",
                                                        "description": "One of a host's networks.",
                                                        "required": ["mbps"],
                                                        "properties": {
                                                                        "up": {
                                                                                "type": "boolean",
                                                                                "default": true,
                                                                                "description": "May be left out on decode (true: a network with an address is up until health says otherwise); always sent."
                                                                              },
                                                                        "mbps": {
                                                                                  "type": "integer",
                                                                                  "format": "int64",
                                                                                  "minimum": 0,
                                                                                  "description": "Bandwidth; a registration with a negative one is refused (400)."
                                                                                },
                                                                        "address": {
                                                                                     "type": "string",
                                                                                     "description": "This host's address on the network."
                                                                                   }
                                                                      }
                                                      },
                                       "RegisteredDevice": {
                                                             "type": "object",
                                                             "description": "A USB device of a host, with `tether probe`'s figures.",
                                                             "required": ["id", "periodicBytesPerSecond", "bulkBytesPerSecond"],
                                                             "properties": {
                                                                             "id": {
                                                                                     "type": "string",
                                                                                     "pattern": "^[A-Za-z0-9._-]{1,63}$",
                                                                                     "description": "Bus-port path (`1-3`), unique on its host. 1 to 63 letters, digits, '-', '.' or '_' (APINames)."
                                                                                   },
                                                                             "vendorId": {"type": "string"},
                                                                             "productId": {"type": "string"},
                                                                             "serial": {"type": "string"},
                                                                             "product": {"type": "string"},
                                                                             "periodicBytesPerSecond": {
                                                                                                         "type": "integer",
                                                                                                         "format": "int64",
                                                                                                         "minimum": 0
                                                                                                       },
                                                                             "bulkBytesPerSecond": {
                                                                                                     "type": "integer",
                                                                                                     "format": "int64",
                                                                                                     "minimum": 0
                                                                                                   },
                                                                             "bus": {
                                                                                      "type": "integer",
                                                                                      "format": "int64",
                                                                                      "description": "Bus number now."
                                                                                    },
                                                                             "address": {
                                                                                          "type": "integer",
                                                                                          "format": "int64",
                                                                                          "description": "Device address now (changes at every replug)."
                                                                                        }
                                                                           }
                                                           },
                                       "VMLaunch.DatastoreDisk": {
                                                                   "type": "object",
                                                                   "required": ["datastore", "export"],
                                                                   "properties": {
                                                                                   "datastore": {"type": "string"},
                                                                                   "export": {"type": "string"}
                                                                                 }
                                                                 },
                                       "VMLaunch.MemoryImage": {
                                                                 "type": "object",
                                                                 "required": ["path", "address"],
                                                                 "properties": {
                                                                                 "path": {"type": "string"},
                                                                                 "address": {
                                                                                              "type": "integer",
                                                                                              "minimum": 0,
                                                                                              "maximum": 18446744073709551615,
                                                                                              "description": "UInt64."
                                                                                            }
                                                                               }
                                                               },
                                       "CrashRegion": {
                                                        "type": "object",
                                                        "description": "The part of a VM's disk where its guest writes its crash files, in 512-byte sectors. The bounds are CrashRegion.validate()'s (applied to an agent's configuration; the API does not apply them).",
                                                        "required": ["firstSector", "sectors"],
                                                        "properties": {
                                                                        "firstSector": {
                                                                                         "type": "integer",
                                                                                         "format": "int64",
                                                                                         "minimum": 0
                                                                                       },
                                                                        "sectors": {
                                                                                     "type": "integer",
                                                                                     "format": "int64",
                                                                                     "minimum": 1,
                                                                                     "maximum": 65536
                                                                                   },
                                                                        "marker": {
                                                                                    "type": "string",
                                                                                    "minLength": 1,
                                                                                    "maxLength": 64,
                                                                                    "description": "The bytes a sector of a crash file starts with (1 to 64 UTF-8 bytes)."
                                                                                  }
                                                                      }
                                                      },
                                       "VMLaunch": {
                                                     "type": "object",
                                                     "description": "How to start a VM (both ends of a live migration must have the same machine). The name and the lower bounds of cpus and memoryMiB are not checked by the decoder; they are stated here because the agent uses the name in file names and reports it back as a RegisteredVM.",
                                                     "required": [
                                                                   "name",
                                                                   "memoryMiB",
                                                                   "cpus",
                                                                   "usbController",
                                                                   "panicDevice",
                                                                   "memoryImages"
                                                                 ],
                                                     "properties": {
                                                                     "name": {
                                                                               "type": "string",
                                                                               "pattern": "^[A-Za-z0-9._-]{1,63}$",
                                                                               "description": "1 to 63 letters, digits, '-', '.' or '_' (APINames)."
                                                                             },
                                                                     "memoryMiB": {"type": "integer", "format": "int64", "minimum": 1},
                                                                     "cpus": {"type": "integer", "format": "int64", "minimum": 1},
                                                                     "usbController": {"type": "boolean"},
                                                                     "panicDevice": {"type": "boolean"},
                                                                     "panicAction": {
                                                                                      "type": "string",
                                                                                      "description": "QEMU's action on a panic (`pause`, `none`); absent: pause."
                                                                                    },
                                                                     "disk": {"type": "string"},
                                                                     "diskFormat": {
                                                                                     "type": "string",
                                                                                     "description": "`raw` or `qcow2` (another is refused when the VM is started); absent: read from the image."
                                                                                   },
                                                                     "machineType": {
                                                                                      "type": "string",
                                                                                      "description": "The versioned machine type (`pc-i440fx-7.2`)."
                                                                                    },
                                                                     "memoryImages": {
                                                                                       "type": "array",
                                                                                       "items": {
                                                                                                  "$ref": "#/components/schemas/VMLaunch.MemoryImage"
                                                                                                }
                                                                                     },
                                                                     "datastoreDisk": {
                                                                                        "description": "A disk on shared storage; takes the place of `disk`.",
                                                                                        "allOf": [
                                                                                                   {
                                                                                                     "$ref": "#/components/schemas/VMLaunch.DatastoreDisk"
                                                                                                   }
                                                                                                 ]
                                                                                      },
                                                                     "crashRegion": {"$ref": "#/components/schemas/CrashRegion"}
                                                                   }
                                                   },
                                       "RegisteredVM": {
                                                         "type": "object",
                                                         "description": "A VM as its host registers it. The name pattern and bounds are AgentRegistration.validate()'s.",
                                                         "required": [
                                                                       "name",
                                                                       "cpus",
                                                                       "memoryMiB",
                                                                       "networkMbps",
                                                                       "datastore",
                                                                       "containers",
                                                                       "status"
                                                                     ],
                                                         "properties": {
                                                                         "name": {
                                                                                   "type": "string",
                                                                                   "pattern": "^[A-Za-z0-9._-]{1,63}$",
                                                                                   "description": "1 to 63 letters, digits, '-', '.' or '_' (APINames)."
                                                                                 },
                                                                         "cpus": {"type": "integer", "format": "int64", "minimum": 1},
                                                                         "memoryMiB": {
                                                                                        "type": "integer",
                                                                                        "format": "int64",
                                                                                        "minimum": 1
                                                                                      },
                                                                         "networkMbps": {
                                                                                          "type": "integer",
                                                                                          "format": "int64",
                                                                                          "minimum": 0
                                                                                        },
                                                                         "datastore": {"type": "string"},
                                                                         "containers": {
                                                                                         "type": "array",
                                                                                         "items": {
                                                                                                    "type": "string",
                                                                                                    "pattern": "^[A-Za-z0-9._-]{1,63}$",
                                                                                                    "description": "1 to 63 letters, digits, '-', '.' or '_' (APINames)."
                                                                                                  }
                                                                                       },
                                                                         "status": {
                                                                                     "description": "QEMU's run state as the agent last saw it.",
                                                                                     "allOf": [
                                                                                                {
                                                                                                  "$ref": "#/components/schemas/VMRunState"
                                                                                                }
                                                                                              ]
                                                                                   },
                                                                         "monitor": {
                                                                                      "type": "string",
                                                                                      "description": "The VM's operator QMP socket on its host."
                                                                                    },
                                                                         "launch": {
                                                                                     "description": "How its host started it; absent for a VM adopted by its QMP socket.",
                                                                                     "allOf": [
                                                                                                {
                                                                                                  "$ref": "#/components/schemas/VMLaunch"
                                                                                                }
                                                                                              ]
                                                                                   }
                                                                       }
                                                       },
                                       "FencingPolicy": {
                                                          "type": "object",
                                                          "description": "A host's fencing: what it does with its VMs when isolated, and by when.",
                                                          "required": ["response", "deadlineSeconds"],
                                                          "properties": {
                                                                          "response": {"$ref": "#/components/schemas/IsolationResponse"},
                                                                          "deadlineSeconds": {
                                                                                               "type": "number",
                                                                                               "format": "double",
                                                                                               "minimum": 0,
                                                                                               "exclusiveMinimum": true,
                                                                                               "description": "From the host's last contact to its VMs stopped, at the latest; must be more than 0."
                                                                                             }
                                                                        }
                                                        },
                                       "AgentRegistration": {
                                                              "type": "object",
                                                              "description": "What an agent tells the controller about its host when it starts, and again whenever its devices or VMs change. The controller validates it (400 listing every problem): names as APINames, agentAddress with a port, cpus and memoryMiB positive, figures not negative, device ids and VM names each listed once, fencing deadline more than 0.",
                                                              "required": [
                                                                            "host",
                                                                            "agentAddress",
                                                                            "cpus",
                                                                            "memoryMiB",
                                                                            "networks",
                                                                            "datastores",
                                                                            "devices",
                                                                            "vms"
                                                                          ],
                                                              "properties": {
                                                                              "host": {
                                                                                        "type": "string",
                                                                                        "pattern": "^[A-Za-z0-9._-]{1,63}$",
                                                                                        "description": "1 to 63 letters, digits, '-', '.' or '_' (APINames)."
                                                                                      },
                                                                              "agentAddress": {
                                                                                                "type": "string",
                                                                                                "pattern": "^(\\[\\].+|\\[[^\\]].*|\\[|[^\\[].*):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$",
                                                                                                "description": "Where the agent's own API listens (mutual TLS): HOST:PORT (HostPort), the port not 0."
                                                                                              },
                                                                              "cpus": {
                                                                                        "type": "integer",
                                                                                        "format": "int64",
                                                                                        "minimum": 1
                                                                                      },
                                                                              "memoryMiB": {
                                                                                             "type": "integer",
                                                                                             "format": "int64",
                                                                                             "minimum": 1
                                                                                           },
                                                                              "networks": {
                                                                                            "type": "object",
                                                                                            "description": "Keyed by network role (NetworkRole): management, migration, vm, storage; any other key is refused.",
                                                                                            "properties": {
                                                                                                            "management": {
                                                                                                                            "$ref": "#/components/schemas/NetworkLink"
                                                                                                                          },
                                                                                                            "migration": {
                                                                                                                           "$ref": "#/components/schemas/NetworkLink"
                                                                                                                         },
                                                                                                            "vm": {
                                                                                                                    "$ref": "#/components/schemas/NetworkLink"
                                                                                                                  },
                                                                                                            "storage": {
                                                                                                                         "$ref": "#/components/schemas/NetworkLink"
                                                                                                                       }
                                                                                                          },
                                                                                            "additionalProperties": false
                                                                                          },
                                                                              "datastores": {
                                                                                              "type": "array",
                                                                                              "items": {
                                                                                                         "type": "string",
                                                                                                         "pattern": "^[A-Za-z0-9._-]{1,63}$",
                                                                                                         "description": "1 to 63 letters, digits, '-', '.' or '_' (APINames)."
                                                                                                       }
                                                                                            },
                                                                              "devices": {
                                                                                           "type": "array",
                                                                                           "items": {
                                                                                                      "$ref": "#/components/schemas/RegisteredDevice"
                                                                                                    },
                                                                                           "description": "Each id once."
                                                                                         },
                                                                              "vms": {
                                                                                       "type": "array",
                                                                                       "items": {
                                                                                                  "$ref": "#/components/schemas/RegisteredVM"
                                                                                                },
                                                                                       "description": "Each name once."
                                                                                     },
                                                                              "fencing": {
                                                                                           "description": "Absent: the host does not fence.",
                                                                                           "allOf": [
                                                                                                      {
                                                                                                        "$ref": "#/components/schemas/FencingPolicy"
                                                                                                      }
                                                                                                    ]
                                                                                         },
                                                                              "agentStarted": {
                                                                                                "type": "string",
                                                                                                "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                                "description": "When this agent process started. An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                              },
                                                                              "revision": {
                                                                                            "type": "integer",
                                                                                            "minimum": 1,
                                                                                            "maximum": 9007199254740991,
                                                                                            "description": "Names this registration among its agent's (counted from a random start in each agent process); the agent's heartbeats carry it as `registered`. Absent: not counted."
                                                                                          }
                                                                            }
                                                            },
                                       "NetworkReport": {
                                                          "type": "object",
                                                          "description": "One network as its host measures it.",
                                                          "required": ["state", "peers"],
                                                          "properties": {
                                                                          "state": {"$ref": "#/components/schemas/HealthState"},
                                                                          "address": {
                                                                                       "type": "string",
                                                                                       "description": "The host's address on it."
                                                                                     },
                                                                          "link": {
                                                                                    "type": "boolean",
                                                                                    "description": "The kernel's word on the link."
                                                                                  },
                                                                          "peers": {
                                                                                     "type": "object",
                                                                                     "additionalProperties": {
                                                                                                               "$ref": "#/components/schemas/PeerState"
                                                                                                             },
                                                                                     "description": "Each peer's state, by host name."
                                                                                   },
                                                                          "since": {
                                                                                     "type": "string",
                                                                                     "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                     "description": "When `state` last changed. An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                   }
                                                                        }
                                                        },
                                       "PathReport": {
                                                       "type": "object",
                                                       "description": "One IO path to a datastore.",
                                                       "required": ["uri", "state"],
                                                       "properties": {
                                                                       "uri": {"type": "string"},
                                                                       "state": {"$ref": "#/components/schemas/HealthState"},
                                                                       "since": {
                                                                                  "type": "string",
                                                                                  "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                  "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                },
                                                                       "lastSuccess": {
                                                                                        "type": "string",
                                                                                        "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                        "description": "The last IO through it that succeeded. An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                      }
                                                                     }
                                                     },
                                       "DatastoreReport": {
                                                            "type": "object",
                                                            "description": "A datastore as one host reaches it.",
                                                            "required": ["name", "paths", "peers"],
                                                            "properties": {
                                                                            "name": {"type": "string"},
                                                                            "paths": {
                                                                                       "type": "array",
                                                                                       "items": {
                                                                                                  "$ref": "#/components/schemas/PathReport"
                                                                                                }
                                                                                     },
                                                                            "peers": {
                                                                                       "type": "object",
                                                                                       "additionalProperties": {"type": "boolean"},
                                                                                       "description": "Per peer: true while its heartbeat records advance."
                                                                                     }
                                                                          }
                                                          },
                                       "HostHealthReport": {
                                                             "type": "object",
                                                             "description": "What an agent measures of its networks, paths and peers.",
                                                             "required": ["at", "networks", "datastores"],
                                                             "properties": {
                                                                             "at": {
                                                                                     "type": "string",
                                                                                     "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                     "description": "When the agent measured it (its own clock). An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                   },
                                                                             "networks": {
                                                                                           "type": "object",
                                                                                           "description": "Keyed by network role (NetworkRole): management, migration, vm, storage; any other key is refused.",
                                                                                           "properties": {
                                                                                                           "management": {
                                                                                                                           "$ref": "#/components/schemas/NetworkReport"
                                                                                                                         },
                                                                                                           "migration": {
                                                                                                                          "$ref": "#/components/schemas/NetworkReport"
                                                                                                                        },
                                                                                                           "vm": {
                                                                                                                   "$ref": "#/components/schemas/NetworkReport"
                                                                                                                 },
                                                                                                           "storage": {
                                                                                                                        "$ref": "#/components/schemas/NetworkReport"
                                                                                                                      }
                                                                                                         },
                                                                                           "additionalProperties": false
                                                                                         },
                                                                             "datastores": {
                                                                                             "type": "array",
                                                                                             "items": {
                                                                                                        "$ref": "#/components/schemas/DatastoreReport"
                                                                                                      }
                                                                                           }
                                                                           }
                                                           },
                                       "DeviceRate": {
                                                       "type": "object",
                                                       "description": "One forwarded device's rate over the last second, both directions.",
                                                       "required": ["device", "bytesPerSecond"],
                                                       "properties": {
                                                                       "device": {
                                                                                   "type": "string",
                                                                                   "description": "The device's port on the reporting host (a rate whose device is not a valid name is ignored)."
                                                                                 },
                                                                       "bytesPerSecond": {"type": "integer", "format": "int64"}
                                                                     }
                                                     },
                                       "Heartbeat": {
                                                      "type": "object",
                                                      "description": "An agent's heartbeat; every field may be left out (`{}`).",
                                                      "properties": {
                                                                      "networks": {
                                                                                    "type": "object",
                                                                                    "description": "The host's networks now; absent: unchanged. Keyed by network role (NetworkRole): management, migration, vm, storage; any other key is refused.",
                                                                                    "properties": {
                                                                                                    "management": {
                                                                                                                    "$ref": "#/components/schemas/NetworkLink"
                                                                                                                  },
                                                                                                    "migration": {
                                                                                                                   "$ref": "#/components/schemas/NetworkLink"
                                                                                                                 },
                                                                                                    "vm": {
                                                                                                            "$ref": "#/components/schemas/NetworkLink"
                                                                                                          },
                                                                                                    "storage": {
                                                                                                                 "$ref": "#/components/schemas/NetworkLink"
                                                                                                               }
                                                                                                  },
                                                                                    "additionalProperties": false
                                                                                  },
                                                                      "health": {
                                                                                  "description": "Absent: an agent without health monitors.",
                                                                                  "allOf": [
                                                                                             {
                                                                                               "$ref": "#/components/schemas/HostHealthReport"
                                                                                             }
                                                                                           ]
                                                                                },
                                                                      "viewDigest": {
                                                                                      "type": "string",
                                                                                      "description": "The digest of the cluster view the agent holds."
                                                                                    },
                                                                      "traffic": {
                                                                                   "type": "array",
                                                                                   "items": {"$ref": "#/components/schemas/DeviceRate"},
                                                                                   "description": "Absent: no device forwarded."
                                                                                 },
                                                                      "registered": {
                                                                                      "type": "integer",
                                                                                      "minimum": 1,
                                                                                      "maximum": 9007199254740991,
                                                                                      "description": "The `revision` of the registration the agent last had accepted; a controller holding another (an older one that arrived late) answers 404 and the agent registers again. Absent: not checked."
                                                                                    }
                                                                    }
                                                    },
                                       "PeerHost": {
                                                     "type": "object",
                                                     "description": "A registered host with its addresses.",
                                                     "required": ["host", "addresses"],
                                                     "properties": {
                                                                     "host": {"type": "string"},
                                                                     "addresses": {
                                                                                    "type": "object",
                                                                                    "description": "Keyed by network role (NetworkRole): management, migration, vm, storage; any other key is refused.",
                                                                                    "properties": {
                                                                                                    "management": {"type": "string"},
                                                                                                    "migration": {"type": "string"},
                                                                                                    "vm": {"type": "string"},
                                                                                                    "storage": {"type": "string"}
                                                                                                  },
                                                                                    "additionalProperties": false
                                                                                  },
                                                                     "agentPort": {
                                                                                    "type": "integer",
                                                                                    "format": "int64",
                                                                                    "description": "The port its agent serves on."
                                                                                  }
                                                                   }
                                                   },
                                       "ClusterView": {
                                                        "type": "object",
                                                        "description": "The controller's view of the cluster, pushed to agents.",
                                                        "required": ["digest", "cluster", "hosts"],
                                                        "properties": {
                                                                        "digest": {
                                                                                    "type": "string",
                                                                                    "description": "Names this view (FNV-1a 64, 16 hex digits)."
                                                                                  },
                                                                        "cluster": {
                                                                                     "type": "string",
                                                                                     "description": "The cluster as measured, as a cluster file (YAML text)."
                                                                                   },
                                                                        "hosts": {
                                                                                   "type": "array",
                                                                                   "items": {"$ref": "#/components/schemas/PeerHost"}
                                                                                 }
                                                                      }
                                                      },
                                       "HeartbeatReply": {
                                                           "type": "object",
                                                           "description": "The controller's answer to a heartbeat.",
                                                           "required": ["peers"],
                                                           "properties": {
                                                                           "peers": {
                                                                                      "type": "array",
                                                                                      "items": {"$ref": "#/components/schemas/PeerHost"},
                                                                                      "description": "Every other registered host."
                                                                                    },
                                                                           "view": {
                                                                                     "description": "Present when the agent's digest is not the current one.",
                                                                                     "allOf": [
                                                                                                {
                                                                                                  "$ref": "#/components/schemas/ClusterView"
                                                                                                }
                                                                                              ]
                                                                                   }
                                                                         }
                                                         },
                                       "DeviceAttachment": {
                                                             "type": "object",
                                                             "description": "A device given to a container's VM.",
                                                             "required": ["id", "container", "vm", "device", "mode", "vmHost", "since"],
                                                             "properties": {
                                                                             "id": {
                                                                                     "type": "string",
                                                                                     "description": "`VM/HOST/DEVICE`: also the channel's session id."
                                                                                   },
                                                                             "container": {"type": "string"},
                                                                             "vm": {"type": "string"},
                                                                             "device": {"$ref": "#/components/schemas/DeviceRef"},
                                                                             "mode": {
                                                                                       "type": "string",
                                                                                       "enum": ["local", "forward"],
                                                                                       "description": "`local`: the device is on the VM's host; `forward`: over a channel."
                                                                                     },
                                                                             "vmHost": {
                                                                                         "type": "string",
                                                                                         "description": "Where the VM ran when the attachment was made."
                                                                                       },
                                                                             "since": {
                                                                                        "type": "string",
                                                                                        "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                        "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                      },
                                                                             "lost": {
                                                                                       "type": "string",
                                                                                       "description": "Why the VM no longer has the device (a failover restarted it elsewhere)."
                                                                                     },
                                                                             "identity": {"$ref": "#/components/schemas/DeviceIdentity"}
                                                                           }
                                                           },
                                       "AttachDecision": {
                                                           "type": "object",
                                                           "description": "What to do so that a container's VM can use a device.",
                                                           "required": [
                                                                         "action",
                                                                         "container",
                                                                         "vm",
                                                                         "vmHost",
                                                                         "device",
                                                                         "requiredBitsPerSecond",
                                                                         "allocatedBitsPerSecond",
                                                                         "migrateThresholdPercent",
                                                                         "reasons"
                                                                       ],
                                                           "properties": {
                                                                           "action": {
                                                                                       "type": "string",
                                                                                       "enum": ["local", "migrate", "forward", "reject"]
                                                                                     },
                                                                           "container": {"type": "string"},
                                                                           "vm": {"type": "string"},
                                                                           "vmHost": {
                                                                                       "type": "string",
                                                                                       "description": "Where the VM runs now."
                                                                                     },
                                                                           "device": {"type": "string"},
                                                                           "targetHost": {
                                                                                           "type": "string",
                                                                                           "description": "For `migrate`: the device's host."
                                                                                         },
                                                                           "requiredBitsPerSecond": {
                                                                                                      "type": "integer",
                                                                                                      "format": "int64"
                                                                                                    },
                                                                           "allocatedBitsPerSecond": {
                                                                                                       "type": "integer",
                                                                                                       "format": "int64"
                                                                                                     },
                                                                           "migrateThresholdPercent": {
                                                                                                        "type": "integer",
                                                                                                        "format": "int64"
                                                                                                      },
                                                                           "reasons": {
                                                                                        "type": "array",
                                                                                        "items": {"type": "string"},
                                                                                        "description": "Why this action; never empty."
                                                                                      },
                                                                           "forwardedAfterMove": {
                                                                                                   "type": "array",
                                                                                                   "items": {"type": "string"},
                                                                                                   "description": "For `migrate`: the VM's other devices, forwarded."
                                                                                                 },
                                                                           "rebalance": {
                                                                                          "type": "boolean",
                                                                                          "description": "A migration decided again on what a forwarded device was seen to use."
                                                                                        }
                                                                         }
                                                         },
                                       "FailoverOrder": {
                                                          "type": "object",
                                                          "description": "One VM's failover, as journaled.",
                                                          "required": [
                                                                        "vm",
                                                                        "fault",
                                                                        "trigger",
                                                                        "from",
                                                                        "target",
                                                                        "mode",
                                                                        "evidence",
                                                                        "reasons",
                                                                        "detectedAt"
                                                                      ],
                                                          "properties": {
                                                                          "vm": {"type": "string"},
                                                                          "fault": {"$ref": "#/components/schemas/FaultKind"},
                                                                          "trigger": {"$ref": "#/components/schemas/FailoverTrigger"},
                                                                          "from": {
                                                                                    "type": "string",
                                                                                    "description": "The host the VM ran on when the fault was seen."
                                                                                  },
                                                                          "target": {"type": "string"},
                                                                          "mode": {"$ref": "#/components/schemas/MoveMode"},
                                                                          "via": {
                                                                                   "description": "The network that carries the state; absent for a restart.",
                                                                                   "allOf": [
                                                                                              {
                                                                                                "$ref": "#/components/schemas/NetworkRole"
                                                                                              }
                                                                                            ]
                                                                                 },
                                                                          "evidence": {"type": "array", "items": {"type": "string"}},
                                                                          "reasons": {"type": "array", "items": {"type": "string"}},
                                                                          "faultAt": {
                                                                                       "type": "string",
                                                                                       "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                       "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                     },
                                                                          "detectedAt": {
                                                                                          "type": "string",
                                                                                          "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                          "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                        },
                                                                          "ranBy": {
                                                                                     "type": "string",
                                                                                     "description": "The host whose agent ran it on its own."
                                                                                   },
                                                                          "ranAs": {
                                                                                     "type": "string",
                                                                                     "description": "The id it had in that agent's journal."
                                                                                   },
                                                                          "registeredVM": {"$ref": "#/components/schemas/RegisteredVM"}
                                                                        }
                                                        },
                                       "MigrationReport": {
                                                            "type": "object",
                                                            "description": "A live migration's state, as the source's agent reports it.",
                                                            "required": ["status", "transferredBytes", "totalBytes"],
                                                            "properties": {
                                                                            "status": {"$ref": "#/components/schemas/MigrationStatus"},
                                                                            "transferredBytes": {"type": "integer", "format": "int64"},
                                                                            "totalBytes": {"type": "integer", "format": "int64"},
                                                                            "error": {"type": "string"},
                                                                            "downtimeMs": {"type": "integer", "format": "int64"}
                                                                          }
                                                          },
                                       "StepOutput": {
                                                       "description": "The typed result of a step, in Swift's synthesized shape for an enum with associated values: an object with exactly one key, the case, holding an object of its values (`_0` for an unlabeled one).",
                                                       "oneOf": [
                                                                  {
                                                                    "type": "object",
                                                                    "description": "Where the VM's target waits for its state.",
                                                                    "required": ["incoming"],
                                                                    "properties": {
                                                                                    "incoming": {
                                                                                                  "type": "object",
                                                                                                  "required": ["_0"],
                                                                                                  "properties": {
                                                                                                                  "_0": {
                                                                                                                          "$ref": "#/components/schemas/HostPort"
                                                                                                                        }
                                                                                                                }
                                                                                                }
                                                                                  },
                                                                    "additionalProperties": false
                                                                  },
                                                                  {
                                                                    "type": "object",
                                                                    "description": "The VM already runs on the target (`{\"alreadyMoved\": {}}`).",
                                                                    "required": ["alreadyMoved"],
                                                                    "properties": {"alreadyMoved": {"type": "object"}},
                                                                    "additionalProperties": false
                                                                  },
                                                                  {
                                                                    "type": "object",
                                                                    "description": "Where the device is exported.",
                                                                    "required": ["exported"],
                                                                    "properties": {
                                                                                    "exported": {
                                                                                                  "type": "object",
                                                                                                  "required": ["_0"],
                                                                                                  "properties": {
                                                                                                                  "_0": {
                                                                                                                          "$ref": "#/components/schemas/HostPort"
                                                                                                                        }
                                                                                                                }
                                                                                                }
                                                                                  },
                                                                    "additionalProperties": false
                                                                  },
                                                                  {
                                                                    "type": "object",
                                                                    "description": "A finished migration.",
                                                                    "required": ["migrated"],
                                                                    "properties": {
                                                                                    "migrated": {
                                                                                                  "type": "object",
                                                                                                  "required": ["_0"],
                                                                                                  "properties": {
                                                                                                                  "_0": {
                                                                                                                          "$ref": "#/components/schemas/MigrationReport"
                                                                                                                        }
                                                                                                                }
                                                                                                }
                                                                                  },
                                                                    "additionalProperties": false
                                                                  },
                                                                  {
                                                                    "type": "object",
                                                                    "description": "A VM restarted on another host: the attachments (by id) whose device could not follow, each with why.",
                                                                    "required": ["devices"],
                                                                    "properties": {
                                                                                    "devices": {
                                                                                                 "type": "object",
                                                                                                 "required": ["lost"],
                                                                                                 "properties": {
                                                                                                                 "lost": {
                                                                                                                           "type": "object",
                                                                                                                           "additionalProperties": {
                                                                                                                                                     "type": "string"
                                                                                                                                                   }
                                                                                                                         }
                                                                                                               }
                                                                                               }
                                                                                  },
                                                                    "additionalProperties": false
                                                                  }
                                                                ]
                                                     },
                                       "StepRecord": {
                                                       "type": "object",
                                                       "description": "One journaled step.",
                                                       "required": ["step", "phase", "at"],
                                                       "properties": {
                                                                       "step": {"type": "string"},
                                                                       "phase": {
                                                                                  "type": "string",
                                                                                  "enum": ["started", "done", "failed"]
                                                                                },
                                                                       "detail": {"type": "string"},
                                                                       "output": {
                                                                                   "description": "What a done step hands on.",
                                                                                   "allOf": [
                                                                                              {
                                                                                                "$ref": "#/components/schemas/StepOutput"
                                                                                              }
                                                                                            ]
                                                                                 },
                                                                       "at": {
                                                                               "type": "string",
                                                                               "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                               "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                             }
                                                                     }
                                                     },
                                       "OperationRecord.Attach": {
                                                                   "type": "object",
                                                                   "description": "An attach: its attachment and placement decision.",
                                                                   "required": [
                                                                                 "id",
                                                                                 "kind",
                                                                                 "attachment",
                                                                                 "decision",
                                                                                 "state",
                                                                                 "steps",
                                                                                 "created",
                                                                                 "updated"
                                                                               ],
                                                                   "properties": {
                                                                                   "id": {"type": "string", "description": "`op-N`."},
                                                                                   "kind": {"type": "string", "enum": ["attach"]},
                                                                                   "attachment": {
                                                                                                   "$ref": "#/components/schemas/DeviceAttachment"
                                                                                                 },
                                                                                   "decision": {
                                                                                                 "$ref": "#/components/schemas/AttachDecision"
                                                                                               },
                                                                                   "state": {
                                                                                              "type": "string",
                                                                                              "enum": [
                                                                                                        "running",
                                                                                                        "completed",
                                                                                                        "rolledBack",
                                                                                                        "failed"
                                                                                                      ]
                                                                                            },
                                                                                   "steps": {
                                                                                              "type": "array",
                                                                                              "items": {
                                                                                                         "$ref": "#/components/schemas/StepRecord"
                                                                                                       }
                                                                                            },
                                                                                   "error": {"type": "string"},
                                                                                   "created": {
                                                                                                "type": "string",
                                                                                                "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                                "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                              },
                                                                                   "updated": {
                                                                                                "type": "string",
                                                                                                "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                                "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                              },
                                                                                   "progress": {
                                                                                                 "description": "A migration's progress while it runs.",
                                                                                                 "allOf": [
                                                                                                            {
                                                                                                              "$ref": "#/components/schemas/MigrationReport"
                                                                                                            }
                                                                                                          ]
                                                                                               }
                                                                                 }
                                                                 },
                                       "OperationRecord.Detach": {
                                                                   "type": "object",
                                                                   "description": "A detach: its attachment and reason.",
                                                                   "required": [
                                                                                 "id",
                                                                                 "kind",
                                                                                 "attachment",
                                                                                 "state",
                                                                                 "steps",
                                                                                 "created",
                                                                                 "updated"
                                                                               ],
                                                                   "properties": {
                                                                                   "id": {"type": "string", "description": "`op-N`."},
                                                                                   "kind": {"type": "string", "enum": ["detach"]},
                                                                                   "attachment": {
                                                                                                   "$ref": "#/components/schemas/DeviceAttachment"
                                                                                                 },
                                                                                   "reason": {
                                                                                               "type": "string",
                                                                                               "description": "Always sent; may be left out on decode (`detach requested`)."
                                                                                             },
                                                                                   "state": {
                                                                                              "type": "string",
                                                                                              "enum": [
                                                                                                        "running",
                                                                                                        "completed",
                                                                                                        "rolledBack",
                                                                                                        "failed"
                                                                                                      ]
                                                                                            },
                                                                                   "steps": {
                                                                                              "type": "array",
                                                                                              "items": {
                                                                                                         "$ref": "#/components/schemas/StepRecord"
                                                                                                       }
                                                                                            },
                                                                                   "error": {"type": "string"},
                                                                                   "created": {
                                                                                                "type": "string",
                                                                                                "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                                "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                              },
                                                                                   "updated": {
                                                                                                "type": "string",
                                                                                                "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                                "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                              },
                                                                                   "progress": {
                                                                                                 "description": "A migration's progress while it runs.",
                                                                                                 "allOf": [
                                                                                                            {
                                                                                                              "$ref": "#/components/schemas/MigrationReport"
                                                                                                            }
                                                                                                          ]
                                                                                               }
                                                                                 }
                                                                 },
                                       "OperationRecord.Failover": {
                                                                     "type": "object",
                                                                     "description": "A failover: its order.",
                                                                     "required": [
                                                                                   "id",
                                                                                   "kind",
                                                                                   "failover",
                                                                                   "state",
                                                                                   "steps",
                                                                                   "created",
                                                                                   "updated"
                                                                                 ],
                                                                     "properties": {
                                                                                     "id": {"type": "string", "description": "`op-N`."},
                                                                                     "kind": {"type": "string", "enum": ["failover"]},
                                                                                     "failover": {
                                                                                                   "$ref": "#/components/schemas/FailoverOrder"
                                                                                                 },
                                                                                     "state": {
                                                                                                "type": "string",
                                                                                                "enum": [
                                                                                                          "running",
                                                                                                          "completed",
                                                                                                          "rolledBack",
                                                                                                          "failed"
                                                                                                        ]
                                                                                              },
                                                                                     "steps": {
                                                                                                "type": "array",
                                                                                                "items": {
                                                                                                           "$ref": "#/components/schemas/StepRecord"
                                                                                                         }
                                                                                              },
                                                                                     "error": {"type": "string"},
                                                                                     "created": {
                                                                                                  "type": "string",
                                                                                                  "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                                  "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                                },
                                                                                     "updated": {
                                                                                                  "type": "string",
                                                                                                  "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                                  "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                                },
                                                                                     "progress": {
                                                                                                   "description": "A migration's progress while it runs.",
                                                                                                   "allOf": [
                                                                                                              {
                                                                                                                "$ref": "#/components/schemas/MigrationReport"
                                                                                                              }
                                                                                                            ]
                                                                                                 }
                                                                                   }
                                                                   },
                                       "OperationRecord": {
                                                            "description": "One journaled operation, flat on the wire: `kind`, then the kind's own keys (custom Codable; keys of another kind are ignored on decode).",
                                                            "oneOf": [
                                                                       {"$ref": "#/components/schemas/OperationRecord.Attach"},
                                                                       {"$ref": "#/components/schemas/OperationRecord.Detach"},
                                                                       {"$ref": "#/components/schemas/OperationRecord.Failover"}
                                                                     ],
                                                            "discriminator": {
                                                                               "propertyName": "kind",
                                                                               "mapping": {
                                                                                            "attach": "#/components/schemas/OperationRecord.Attach",
                                                                                            "detach": "#/components/schemas/OperationRecord.Detach",
                                                                                            "failover": "#/components/schemas/OperationRecord.Failover"
                                                                                          }
                                                                             }
                                                          },
                                       "AttachRequest": {
                                                          "type": "object",
                                                          "description": "`POST /v1/attachments`: give a container's VM a device (custom decoder).",
                                                          "required": ["container", "device"],
                                                          "properties": {
                                                                          "container": {
                                                                                         "type": "string",
                                                                                         "pattern": "^[A-Za-z0-9._-]{1,63}$",
                                                                                         "description": "A bad name is refused (400). 1 to 63 letters, digits, '-', '.' or '_' (APINames)."
                                                                                       },
                                                                          "device": {"$ref": "#/components/schemas/DeviceSelector"},
                                                                          "vm": {
                                                                                  "type": "string",
                                                                                  "pattern": "^[A-Za-z0-9._-]{1,63}$",
                                                                                  "description": "The VM the container runs in, when the controller may not know it yet. 1 to 63 letters, digits, '-', '.' or '_' (APINames)."
                                                                                },
                                                                          "dryRun": {
                                                                                      "type": "boolean",
                                                                                      "default": false,
                                                                                      "description": "Decide only; change nothing. Absent: false."
                                                                                    }
                                                                        }
                                                        },
                                       "AttachResponse": {
                                                           "type": "object",
                                                           "description": "The decision with its reasons, and the operation that carries it out.",
                                                           "required": ["decision"],
                                                           "properties": {
                                                                           "decision": {"$ref": "#/components/schemas/AttachDecision"},
                                                                           "operation": {
                                                                                          "description": "Absent for a dry run, a rejection, or a device already attached to that VM.",
                                                                                          "allOf": [
                                                                                                     {
                                                                                                       "$ref": "#/components/schemas/OperationRecord"
                                                                                                     }
                                                                                                   ]
                                                                                        }
                                                                         }
                                                         },
                                       "DetachRequest": {
                                                          "type": "object",
                                                          "description": "`POST /v1/detachments`: take a device back from a container's VM.",
                                                          "required": ["container"],
                                                          "properties": {
                                                                          "container": {
                                                                                         "type": "string",
                                                                                         "pattern": "^[A-Za-z0-9._-]{1,63}$",
                                                                                         "description": "A bad name is refused (400). 1 to 63 letters, digits, '-', '.' or '_' (APINames)."
                                                                                       },
                                                                          "device": {
                                                                                      "description": "Absent: all of the container's devices.",
                                                                                      "allOf": [
                                                                                                 {
                                                                                                   "$ref": "#/components/schemas/DeviceSelector"
                                                                                                 }
                                                                                               ]
                                                                                    }
                                                                        }
                                                        },
                                       "DetachReply": {
                                                        "type": "object",
                                                        "required": ["operations"],
                                                        "properties": {
                                                                        "operations": {
                                                                                        "type": "array",
                                                                                        "items": {
                                                                                                   "$ref": "#/components/schemas/OperationRecord"
                                                                                                 }
                                                                                      }
                                                                      }
                                                      },
                                       "FaultReport": {
                                                        "type": "object",
                                                        "description": "An agent's word: this host has a fault, and these VMs are affected.",
                                                        "required": ["host", "fault", "vms", "evidence"],
                                                        "properties": {
                                                                        "host": {
                                                                                  "type": "string",
                                                                                  "description": "Over TLS, the caller's certificate must name it (403)."
                                                                                },
                                                                        "fault": {"$ref": "#/components/schemas/FaultKind"},
                                                                        "vms": {
                                                                                 "type": "array",
                                                                                 "items": {"type": "string"},
                                                                                 "description": "Empty: every VM of the host the fault concerns (a fault that names its VMs refuses empty, 400)."
                                                                               },
                                                                        "evidence": {"type": "array", "items": {"type": "string"}},
                                                                        "faultAt": {
                                                                                     "type": "string",
                                                                                     "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                     "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                   },
                                                                        "observedAt": {
                                                                                        "type": "string",
                                                                                        "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                        "description": "When the agent saw the fault hold; a report older than the host's last silence is refused (409). An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                      }
                                                                      }
                                                      },
                                       "FailoverPlan.Unplaced": {
                                                                  "type": "object",
                                                                  "description": "A VM no host could take.",
                                                                  "required": ["vm", "reasons"],
                                                                  "properties": {
                                                                                  "vm": {"type": "string"},
                                                                                  "reasons": {
                                                                                               "type": "array",
                                                                                               "items": {"type": "string"},
                                                                                               "description": "One reason for each host that was rejected."
                                                                                             }
                                                                                }
                                                                },
                                       "FaultReply": {
                                                       "type": "object",
                                                       "description": "What the controller did with a fault.",
                                                       "required": ["started", "joined", "unplaced", "notes"],
                                                       "properties": {
                                                                       "started": {
                                                                                    "type": "array",
                                                                                    "items": {"type": "string"},
                                                                                    "description": "Operations begun."
                                                                                  },
                                                                       "joined": {
                                                                                   "type": "array",
                                                                                   "items": {"type": "string"},
                                                                                   "description": "Operations already running for the same VMs."
                                                                                 },
                                                                       "unplaced": {
                                                                                     "type": "array",
                                                                                     "items": {
                                                                                                "$ref": "#/components/schemas/FailoverPlan.Unplaced"
                                                                                              }
                                                                                   },
                                                                       "notes": {"type": "array", "items": {"type": "string"}}
                                                                     }
                                                     },
                                       "HostCondition": {
                                                          "type": "object",
                                                          "description": "The controller's verdict on a host.",
                                                          "required": ["verdict", "reasons"],
                                                          "properties": {
                                                                          "verdict": {"$ref": "#/components/schemas/HostVerdict"},
                                                                          "reasons": {"type": "array", "items": {"type": "string"}},
                                                                          "since": {
                                                                                     "type": "string",
                                                                                     "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                     "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                   }
                                                                        }
                                                        },
                                       "HostStatus": {
                                                       "type": "object",
                                                       "required": ["name", "registration", "up", "condition", "networks", "datastores"],
                                                       "properties": {
                                                                       "name": {"type": "string"},
                                                                       "registration": {
                                                                                         "$ref": "#/components/schemas/AgentRegistration"
                                                                                       },
                                                                       "up": {"type": "boolean"},
                                                                       "lastHeartbeat": {
                                                                                          "type": "string",
                                                                                          "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                          "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                        },
                                                                       "condition": {"$ref": "#/components/schemas/HostCondition"},
                                                                       "networks": {
                                                                                     "type": "object",
                                                                                     "description": "Keyed by network role (NetworkRole): management, migration, vm, storage; any other key is refused.",
                                                                                     "properties": {
                                                                                                     "management": {
                                                                                                                     "$ref": "#/components/schemas/NetworkReport"
                                                                                                                   },
                                                                                                     "migration": {
                                                                                                                    "$ref": "#/components/schemas/NetworkReport"
                                                                                                                  },
                                                                                                     "vm": {
                                                                                                             "$ref": "#/components/schemas/NetworkReport"
                                                                                                           },
                                                                                                     "storage": {
                                                                                                                  "$ref": "#/components/schemas/NetworkReport"
                                                                                                                }
                                                                                                   },
                                                                                     "additionalProperties": false
                                                                                   },
                                                                       "datastores": {
                                                                                       "type": "array",
                                                                                       "items": {
                                                                                                  "$ref": "#/components/schemas/DatastoreReport"
                                                                                                }
                                                                                     }
                                                                     }
                                                     },
                                       "VMStatus": {
                                                     "type": "object",
                                                     "description": "A VM as operators see it.",
                                                     "required": ["name", "host", "state"],
                                                     "properties": {
                                                                     "name": {"type": "string"},
                                                                     "host": {"type": "string"},
                                                                     "state": {
                                                                                "type": "string",
                                                                                "description": "`running`, `paused`, `suspended`, `io-error`, `crashed`, `migrating`, `restarting`, or QEMU's word."
                                                                              },
                                                                     "monitor": {"type": "string"}
                                                                   }
                                                   },
                                       "ControllerStatus": {
                                                             "type": "object",
                                                             "description": "One controller of a cluster.",
                                                             "required": ["name", "leader"],
                                                             "properties": {
                                                                             "name": {"type": "string"},
                                                                             "leader": {"type": "boolean"},
                                                                             "address": {
                                                                                          "description": "Its mutual-TLS API; absent: local only.",
                                                                                          "allOf": [
                                                                                                     {
                                                                                                       "$ref": "#/components/schemas/HostPort"
                                                                                                     }
                                                                                                   ]
                                                                                        },
                                                                             "socket": {
                                                                                         "type": "string",
                                                                                         "description": "Its local API socket."
                                                                                       },
                                                                             "since": {
                                                                                        "type": "string",
                                                                                        "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                        "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                      }
                                                                           }
                                                           },
                                       "ObservedTraffic": {
                                                            "type": "object",
                                                            "description": "What a device was seen to use.",
                                                            "required": [
                                                                          "device",
                                                                          "peakBytesPerSecond",
                                                                          "peakAt",
                                                                          "lastBytesPerSecond",
                                                                          "lastAt"
                                                                        ],
                                                            "properties": {
                                                                            "device": {"$ref": "#/components/schemas/DeviceRef"},
                                                                            "peakBytesPerSecond": {"type": "integer", "format": "int64"},
                                                                            "peakAt": {
                                                                                        "type": "string",
                                                                                        "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                        "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                      },
                                                                            "lastBytesPerSecond": {"type": "integer", "format": "int64"},
                                                                            "lastAt": {
                                                                                        "type": "string",
                                                                                        "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                        "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                      },
                                                                            "identity": {"$ref": "#/components/schemas/DeviceIdentity"}
                                                                          }
                                                          },
                                       "DeviceFigures": {
                                                          "type": "object",
                                                          "description": "A device's declared and observed figures.",
                                                          "required": [
                                                                        "device",
                                                                        "periodicBytesPerSecond",
                                                                        "requiredBitsPerSecond",
                                                                        "source"
                                                                      ],
                                                          "properties": {
                                                                          "device": {"$ref": "#/components/schemas/DeviceRef"},
                                                                          "periodicBytesPerSecond": {
                                                                                                      "type": "integer",
                                                                                                      "format": "int64"
                                                                                                    },
                                                                          "profileBulkBytesPerSecond": {
                                                                                                         "type": "integer",
                                                                                                         "format": "int64"
                                                                                                       },
                                                                          "observed": {"$ref": "#/components/schemas/ObservedTraffic"},
                                                                          "requiredBitsPerSecond": {
                                                                                                     "type": "integer",
                                                                                                     "format": "int64"
                                                                                                   },
                                                                          "source": {"$ref": "#/components/schemas/BulkFigureSource"},
                                                                          "aboveThresholdSince": {
                                                                                                   "type": "string",
                                                                                                   "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                                   "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                                 },
                                                                          "advice": {"type": "string"}
                                                                        }
                                                        },
                                       "ClusterStatus": {
                                                          "type": "object",
                                                          "description": "The cluster as the controller sees it now. `vms`, `controllers` and `devices` are always sent but may be left out on decode (answers of older controllers).",
                                                          "required": ["hosts", "attachments", "operations"],
                                                          "properties": {
                                                                          "hosts": {
                                                                                     "type": "array",
                                                                                     "items": {
                                                                                                "$ref": "#/components/schemas/HostStatus"
                                                                                              }
                                                                                   },
                                                                          "vms": {
                                                                                   "type": "array",
                                                                                   "items": {"$ref": "#/components/schemas/VMStatus"}
                                                                                 },
                                                                          "attachments": {
                                                                                           "type": "array",
                                                                                           "items": {
                                                                                                      "$ref": "#/components/schemas/DeviceAttachment"
                                                                                                    }
                                                                                         },
                                                                          "operations": {
                                                                                          "type": "array",
                                                                                          "items": {
                                                                                                     "$ref": "#/components/schemas/OperationRecord"
                                                                                                   },
                                                                                          "description": "Operations not yet finished."
                                                                                        },
                                                                          "controllers": {
                                                                                           "type": "array",
                                                                                           "items": {
                                                                                                      "$ref": "#/components/schemas/ControllerStatus"
                                                                                                    }
                                                                                         },
                                                                          "store": {
                                                                                     "type": "string",
                                                                                     "description": "A path (SQLite) or `etcd://HOST:PORT,...`."
                                                                                   },
                                                                          "devices": {
                                                                                       "type": "array",
                                                                                       "items": {
                                                                                                  "$ref": "#/components/schemas/DeviceFigures"
                                                                                                }
                                                                                     }
                                                                        }
                                                        },
                                       "ClusterEvent": {
                                                         "type": "object",
                                                         "description": "One entry of `tether events`.",
                                                         "required": ["sequence", "at", "kind", "subject", "to", "detail"],
                                                         "properties": {
                                                                         "sequence": {
                                                                                       "type": "integer",
                                                                                       "format": "int64",
                                                                                       "minimum": 1,
                                                                                       "description": "Grows by one per event, from 1."
                                                                                     },
                                                                         "at": {
                                                                                 "type": "string",
                                                                                 "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                 "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                               },
                                                                         "kind": {
                                                                                   "type": "string",
                                                                                   "enum": [
                                                                                             "network",
                                                                                             "path",
                                                                                             "host",
                                                                                             "operation",
                                                                                             "fault",
                                                                                             "device"
                                                                                           ]
                                                                                 },
                                                                         "host": {"type": "string"},
                                                                         "subject": {
                                                                                      "type": "string",
                                                                                      "description": "What changed: `management`, `ds1 nbd://10.83.0.1:10809`, an operation id."
                                                                                    },
                                                                         "from": {"type": "string"},
                                                                         "to": {"type": "string"},
                                                                         "detail": {"type": "array", "items": {"type": "string"}},
                                                                         "detectionSeconds": {
                                                                                               "type": "number",
                                                                                               "format": "double",
                                                                                               "description": "From the fault to the controller knowing of it."
                                                                                             }
                                                                       }
                                                       },
                                       "EventPage": {
                                                      "type": "object",
                                                      "description": "The events after the asked sequence, and the sequence to ask after next.",
                                                      "required": ["events", "next"],
                                                      "properties": {
                                                                      "events": {
                                                                                  "type": "array",
                                                                                  "items": {"$ref": "#/components/schemas/ClusterEvent"}
                                                                                },
                                                                      "next": {"type": "integer", "format": "int64", "minimum": 0}
                                                                    }
                                                    },
                                       "ChannelEndState": {
                                                            "type": "object",
                                                            "description": "A relay end feeding a VM's usb-redir device.",
                                                            "required": ["session", "from", "deviceHost"],
                                                            "properties": {
                                                                            "session": {"type": "string"},
                                                                            "from": {"$ref": "#/components/schemas/HostPort"},
                                                                            "deviceHost": {"type": "string"}
                                                                          }
                                                          },
                                       "VMUSBDevice": {
                                                        "type": "object",
                                                        "description": "A USB device as a VM sees it.",
                                                        "required": ["address", "port", "speed", "product"],
                                                        "properties": {
                                                                        "address": {"type": "string", "description": "`BUS.ADDRESS`."},
                                                                        "port": {"type": "string"},
                                                                        "speed": {"type": "string"},
                                                                        "product": {"type": "string"},
                                                                        "id": {"type": "string", "description": "QEMU device id."}
                                                                      }
                                                      },
                                       "AgentVMState": {
                                                         "type": "object",
                                                         "description": "`GET /v1/agent/vms/{name}`: a VM on this host.",
                                                         "required": ["name", "status", "redirections", "usb", "channels"],
                                                         "properties": {
                                                                         "name": {"type": "string"},
                                                                         "status": {"$ref": "#/components/schemas/VMRunState"},
                                                                         "launch": {"$ref": "#/components/schemas/VMLaunch"},
                                                                         "migration": {
                                                                                        "description": "The outgoing migration, while one runs or after it ended.",
                                                                                        "allOf": [
                                                                                                   {
                                                                                                     "$ref": "#/components/schemas/MigrationReport"
                                                                                                   }
                                                                                                 ]
                                                                                      },
                                                                         "redirections": {
                                                                                           "type": "array",
                                                                                           "items": {"type": "string"},
                                                                                           "description": "Tether's usb-redir devices in the VM."
                                                                                         },
                                                                         "registration": {"$ref": "#/components/schemas/RegisteredVM"},
                                                                         "usb": {
                                                                                  "type": "array",
                                                                                  "items": {"$ref": "#/components/schemas/VMUSBDevice"},
                                                                                  "description": "The USB devices the VM sees now."
                                                                                },
                                                                         "channels": {
                                                                                       "type": "array",
                                                                                       "items": {
                                                                                                  "$ref": "#/components/schemas/ChannelEndState"
                                                                                                },
                                                                                       "description": "The relay ends on this host that feed the VM."
                                                                                     }
                                                                       }
                                                       },
                                       "IncomingRequest": {
                                                            "type": "object",
                                                            "description": "`POST /v1/agent/incoming`: start a VM waiting for a migration.",
                                                            "required": ["launch", "channels"],
                                                            "properties": {
                                                                            "launch": {"$ref": "#/components/schemas/VMLaunch"},
                                                                            "source": {
                                                                                        "type": "string",
                                                                                        "description": "The host the VM comes from (over TLS, the only one accepted)."
                                                                                      },
                                                                            "registration": {
                                                                                              "$ref": "#/components/schemas/RegisteredVM"
                                                                                            },
                                                                            "channels": {
                                                                                          "type": "array",
                                                                                          "items": {
                                                                                                     "$ref": "#/components/schemas/ChannelEndState"
                                                                                                   },
                                                                                          "description": "The VM's forwarded devices."
                                                                                        },
                                                                            "via": {
                                                                                     "description": "Absent: migration; only migration or management are taken (400 otherwise).",
                                                                                     "allOf": [
                                                                                                {
                                                                                                  "$ref": "#/components/schemas/NetworkRole"
                                                                                                }
                                                                                              ]
                                                                                   }
                                                                          }
                                                          },
                                       "AddressReply": {
                                                         "type": "object",
                                                         "required": ["address"],
                                                         "properties": {"address": {"$ref": "#/components/schemas/HostPort"}}
                                                       },
                                       "MigrateRequest": {
                                                           "type": "object",
                                                           "description": "`POST /v1/agent/migrations`: live-migrate a local VM to a readied target.",
                                                           "required": ["vm", "to"],
                                                           "properties": {
                                                                           "vm": {"type": "string"},
                                                                           "to": {"$ref": "#/components/schemas/HostPort"},
                                                                           "target": {
                                                                                       "type": "string",
                                                                                       "description": "The target's host name; absent: the host of `to`."
                                                                                     }
                                                                         }
                                                         },
                                       "VMRequest": {
                                                      "type": "object",
                                                      "description": "A VM by name; for a release, where it went.",
                                                      "required": ["vm"],
                                                      "properties": {"vm": {"type": "string"}, "movedTo": {"type": "string"}}
                                                    },
                                       "EvacuateRequest": {
                                                            "type": "object",
                                                            "description": "A failover's move of a local VM's state to `to`, where `target` waits.",
                                                            "required": ["vm", "to", "target", "leaveStorage"],
                                                            "properties": {
                                                                            "vm": {"type": "string"},
                                                                            "to": {"$ref": "#/components/schemas/HostPort"},
                                                                            "target": {"type": "string"},
                                                                            "leaveStorage": {
                                                                                              "type": "boolean",
                                                                                              "description": "Take the disk off its datastore first."
                                                                                            },
                                                                            "maxBandwidthBytesPerSecond": {
                                                                                                            "type": "integer",
                                                                                                            "format": "int64",
                                                                                                            "description": "Cap on the migration stream."
                                                                                                          }
                                                                          }
                                                          },
                                       "CrashCollection": {
                                                            "type": "object",
                                                            "description": "What the crash flow kept of a crashed guest.",
                                                            "required": [
                                                                          "vm",
                                                                          "host",
                                                                          "directory",
                                                                          "files",
                                                                          "crashSectors",
                                                                          "guestWrote",
                                                                          "memoryDumped",
                                                                          "settledAfterSeconds",
                                                                          "at"
                                                                        ],
                                                            "properties": {
                                                                            "vm": {"type": "string"},
                                                                            "host": {"type": "string"},
                                                                            "directory": {"type": "string"},
                                                                            "files": {"type": "array", "items": {"type": "string"}},
                                                                            "crashSectors": {"type": "integer", "format": "int64"},
                                                                            "guestWrote": {"type": "boolean"},
                                                                            "memoryDumped": {"type": "boolean"},
                                                                            "settledAfterSeconds": {
                                                                                                     "type": "number",
                                                                                                     "format": "double"
                                                                                                   },
                                                                            "at": {
                                                                                    "type": "string",
                                                                                    "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z$",
                                                                                    "description": "An ISO 8601 time in UTC: `2026-12-03T13:28:06Z`, or with milliseconds `2026-12-03T13:28:06.250Z`."
                                                                                  }
                                                                          }
                                                          },
                                       "ExportRequest": {
                                                          "type": "object",
                                                          "description": "`POST /v1/agent/exports`: export a local device for one attachment.",
                                                          "required": ["session", "device", "local", "allow"],
                                                          "properties": {
                                                                          "session": {"type": "string"},
                                                                          "device": {"type": "string"},
                                                                          "local": {
                                                                                     "type": "boolean",
                                                                                     "description": "For a VM on this host: no relay, the exporter listens on the loopback."
                                                                                   },
                                                                          "allow": {
                                                                                     "type": "array",
                                                                                     "items": {"type": "string"},
                                                                                     "description": "Certificate names the relay accepts."
                                                                                   }
                                                                        }
                                                        },
                                       "ChannelRequest": {
                                                           "type": "object",
                                                           "description": "`POST /v1/agent/channels`: give a local VM the device exported at `from`.",
                                                           "required": ["session", "vm", "from", "deviceHost", "local"],
                                                           "properties": {
                                                                           "session": {"type": "string"},
                                                                           "vm": {"type": "string"},
                                                                           "from": {"$ref": "#/components/schemas/HostPort"},
                                                                           "deviceHost": {"type": "string"},
                                                                           "local": {"type": "boolean"}
                                                                         }
                                                         },
                                       "SessionRequest": {
                                                           "type": "object",
                                                           "description": "`POST /v1/agent/exports/stop` and `/v1/agent/channels/stop`.",
                                                           "required": ["session"],
                                                           "properties": {"session": {"type": "string"}, "vm": {"type": "string"}}
                                                         }
                                     },
                          "responses": {
                                         "BadRequest": {
                                                         "description": "Bad input: no body, a body over 4 MiB, malformed JSON, a missing or mistyped field, an invalid value (invalidArgument).",
                                                         "content": {
                                                                      "application/json": {
                                                                                            "schema": {
                                                                                                        "$ref": "#/components/schemas/Error"
                                                                                                      }
                                                                                          }
                                                                    }
                                                       },
                                         "Forbidden": {
                                                        "description": "The caller may not do this: its role (certificate, or local uid and groups) or, for an agent, a certificate for another host (permissionDenied).",
                                                        "content": {
                                                                     "application/json": {
                                                                                           "schema": {
                                                                                                       "$ref": "#/components/schemas/Error"
                                                                                                     }
                                                                                         }
                                                                   }
                                                      },
                                         "NotFound": {
                                                       "description": "No such thing (notFound).",
                                                       "content": {
                                                                    "application/json": {
                                                                                          "schema": {
                                                                                                      "$ref": "#/components/schemas/Error"
                                                                                                    }
                                                                                        }
                                                                  }
                                                     },
                                         "Conflict": {
                                                       "description": "Busy: another operation runs for the device or VM, or the request is stale (busy).",
                                                       "content": {
                                                                    "application/json": {
                                                                                          "schema": {
                                                                                                      "$ref": "#/components/schemas/Error"
                                                                                                    }
                                                                                        }
                                                                  }
                                                     },
                                         "Unprocessable": {
                                                            "description": "This agent cannot do it (unsupported).",
                                                            "content": {
                                                                         "application/json": {
                                                                                               "schema": {
                                                                                                           "$ref": "#/components/schemas/Error"
                                                                                                         }
                                                                                             }
                                                                       }
                                                          },
                                         "BadGateway": {
                                                         "description": "A lower layer failed: QEMU, an exporter, a relay, the store (io).",
                                                         "content": {
                                                                      "application/json": {
                                                                                            "schema": {
                                                                                                        "$ref": "#/components/schemas/Error"
                                                                                                      }
                                                                                          }
                                                                    }
                                                       },
                                         "Unavailable": {
                                                          "description": "This controller does not lead (notLeader; the message names the leader), or interrupted / noMemory.",
                                                          "content": {
                                                                       "application/json": {
                                                                                             "schema": {
                                                                                                         "$ref": "#/components/schemas/Error"
                                                                                                       }
                                                                                           }
                                                                     }
                                                        },
                                         "Error": {
                                                    "description": "Any other failure, as JSON with its code (see Error).",
                                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                                                  }
                                       }
                        }
        }
        """#
}
