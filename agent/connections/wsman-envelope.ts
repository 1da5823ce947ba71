import crypto from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';

/** WS-Management namespaces and action URIs of the Windows Remote Shell (MS-WSMV). */
export const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  wsa: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsman: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  rsp: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
  p: 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
};

export const SHELL_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';

export const ACTIONS = {
  create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
  command: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
  receive: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive',
  signal: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal',
};

export const SIGNAL_TERMINATE =
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate';
export const STATE_DONE =
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done';
/** WSManFault code for "no output within OperationTimeout": the client simply asks again. */
export const TIMED_OUT_CODE = '2150858793';

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface EnvelopeOptions {
  to: string;
  action: string;
  shellId?: string;
  options?: Record<string, string>;
  body: string;
  timeoutSeconds?: number;
}

/** Builds one WS-Man request envelope for the cmd shell resource. */
export function buildEnvelope(e: EnvelopeOptions): string {
  const selector = e.shellId
    ? `<wsman:SelectorSet><wsman:Selector ` +
      `Name="ShellId">${xmlEscape(e.shellId)}</wsman:Selector></wsman:SelectorSet>`
    : '';
  const options = e.options
    ? `<wsman:OptionSet>${Object.entries(e.options)
        .map(([k, v]) => `<wsman:Option Name="${k}">${xmlEscape(v)}</wsman:Option>`)
        .join('')}</wsman:OptionSet>`
    : '';
  return (
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<s:Envelope xmlns:s="${NS.s}" xmlns:wsa="${NS.wsa}" xmlns:wsman="${NS.wsman}" ` +
    `xmlns:rsp="${NS.rsp}" xmlns:p="${NS.p}">` +
    `<s:Header>` +
    `<wsa:To>${xmlEscape(e.to)}</wsa:To>` +
    `<wsa:ReplyTo><wsa:Address s:mustUnderstand="true">` +
    `http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous` +
    `</wsa:Address></wsa:ReplyTo>` +
    `<wsman:ResourceURI s:mustUnderstand="true">${SHELL_URI}</wsman:ResourceURI>` +
    `<wsa:Action s:mustUnderstand="true">${e.action}</wsa:Action>` +
    `<wsman:MaxEnvelopeSize s:mustUnderstand="true">153600</wsman:MaxEnvelopeSize>` +
    `<wsa:MessageID>uuid:${crypto.randomUUID().toUpperCase()}</wsa:MessageID>` +
    `<wsman:Locale xml:lang="en-US" s:mustUnderstand="false"/>` +
    `<wsman:OperationTimeout>PT${e.timeoutSeconds ?? 20}S</wsman:OperationTimeout>` +
    selector +
    options +
    `</s:Header><s:Body>${e.body}</s:Body></s:Envelope>`
  );
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  isArray: (name) => name === 'Stream',
});

/** Parses a response envelope into its Body, without namespace prefixes. */
export function parseEnvelope(xml: string): Record<string, any> {
  const doc = parser.parse(xml) as { Envelope?: { Body?: Record<string, any> } };
  if (!doc.Envelope?.Body) throw new Error('the answer is not a SOAP envelope');
  return doc.Envelope.Body;
}

/** The fault's WSManFault code and message, when the body is a SOAP fault. */
export function faultOf(body: Record<string, any>): { code: string; message: string } | null {
  const fault = body.Fault;
  if (!fault) return null;
  const detail = fault.Detail?.WSManFault;
  const text =
    detail?.Message ?? fault.Reason?.Text?.['#text'] ?? fault.Reason?.Text ?? 'SOAP fault';
  return {
    code: String(detail?.['@Code'] ?? ''),
    message: String(typeof text === 'object' ? JSON.stringify(text) : text).trim(),
  };
}
