// English texts: simulator. Keys and plural forms: docs/i18n.md.
export default {
  "sim.phone-simulator-sms-hub": "Phone simulator · SMS Hub",
  "sim.phone-simulator": "Phone simulator",
  "sim.pretend-to-be-a-customer": "Pretend to be a customer: text one of the hub's simulator numbers and watch the reply arrive here. Open the",
  "sim.inbox": "inbox",
  "sim.in-another-window-to-answer": "in another window to answer.",
  "sim.my-phone-number": "My phone number",
  "sim.text-to": "Text to",
  "sim.connecting": "Connecting…",
  "sim.simulated-phone": "Simulated phone",
  "sim.messages": "Messages",
  "sim.attach-a-file": "Attach a file",
  "sim.message": "Message",
  "sim.text-message": "Text message",
  "sim.send": "Send"
};
